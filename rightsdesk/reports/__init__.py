"""Reports for staff: figures per month, timeliness, the request register, and their charts."""
