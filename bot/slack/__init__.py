"""Slack-side plumbing that is not a listener: the alert sender, its per-channel pacing, …"""
