"""Services: what the bot does, independent of Slack (handlers call them; they call the API
client and the Redis store)."""
