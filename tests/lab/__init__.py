"""The wsfc.rolling lab: a simulated Windows failover-cluster datacenter on loopback."""
