"""Uploads: presigned uploads into the caller's own prefix, and the check of what arrived.

`POST /v1/uploads` records a `pending` upload and presigns its object; the upload trigger
(`handlers.handle_object_created`, `checks`) reads the object, checks it and marks the upload
`ready` (recording the size and SHA-256 of the bytes checked) or `rejected`; a later write to
a ready upload's key rejects it (`changed`), and `prepare` reads only the bytes that were
checked (`integrity`).
"""
