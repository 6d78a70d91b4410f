"""The community web site: server-rendered, bilingual pages over the same services as the APIs."""
