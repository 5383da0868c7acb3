"""Sign-up, sign-in, token refresh with rotation and reuse detection, sign-out."""
