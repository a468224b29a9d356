"""The steps of the day, in the order demo.run plays them."""
