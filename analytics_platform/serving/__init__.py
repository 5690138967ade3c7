"""The prediction service: a bundle of plain arrays, numpy inference, a small HTTP server."""
