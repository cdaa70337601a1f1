"""Per-workload autoscaling: the HPA's rules, forecasting ahead of start-up time, scale to zero, budget caps.

`recommender.recommend` is the one decision function; `decider.AutoscalingDecider` runs it for every
workload of a pass and `tenantops.sim` replays it over recorded traces.
"""
