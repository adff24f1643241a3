"""What both APIs share about the server itself: the public form's captcha."""
