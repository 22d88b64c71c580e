"""The wire: one folder per dialect (v1, v2, v3, the usage reports, the console), each with its schemas, views
and OpenAPI operations, and what every dialect shares (the error catalogue's rendering, responses, URLs,
presenters, request limits and bodies, bearer-token checks, discovery, the issuer's endpoint, the OpenAPI
document). Views stay thin over the store, identity and usage, which it may import, with the base."""
