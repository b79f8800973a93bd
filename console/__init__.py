"""rollout-console: a terminal console for live canary rollouts on Kubernetes."""
