"""What readers see from the paywall itself: the call to action and the paywall's own pages."""
