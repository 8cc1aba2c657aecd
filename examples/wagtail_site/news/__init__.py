"""The example's page types: a home page listing articles, and articles with a paywall choice."""
