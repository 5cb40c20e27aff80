"""The privacy policy: versions with advance notice, and the notice campaigns that tell users."""
