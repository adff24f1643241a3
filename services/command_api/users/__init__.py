"""Users: the super-admin and API users (CLI today; the users API comes with the admin issue)."""
