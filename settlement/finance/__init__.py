"""The finance pages at /finance/: server-rendered statements for hub finance staff and partner
finance users (views.py), their access rules (access.py) and the settled-amounts chart (chart.py)."""
