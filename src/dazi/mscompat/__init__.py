"""The ModelScope SDK protocol (legacy ``/api/v1`` and OpenAPI ``/openapi/v1``) over the hub's services."""
