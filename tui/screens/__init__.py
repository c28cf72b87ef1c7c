"""The wizard's screens, one step of the journey each. They ask and show; core/ does the work."""
