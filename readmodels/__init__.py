"""The readers of the read models (schema ``readmodel``), shared by both APIs
and the sender: the SQL that answers GET requests and command answers."""
