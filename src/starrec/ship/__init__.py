"""The shipping floor: exports in every runtime, one classifier interface, starrec predict and the
HTTP service with its page. Imports those below."""
