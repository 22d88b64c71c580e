"""Who is asking and what they may see: bearer tokens, the issuer's users and clients, API tokens, roles and
visibility. It imports the store and the base."""
