"""HTTP routes of the admin app, one module per resource."""
