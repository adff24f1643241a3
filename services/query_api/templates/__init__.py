"""E-mail templates on the query side: read-model queries, previews, GET routes."""
