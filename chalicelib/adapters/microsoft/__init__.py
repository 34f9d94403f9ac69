"""Microsoft 365 adapters: Graph (delta queries, subscriptions), EWS (on-premises Exchange), tokens."""
