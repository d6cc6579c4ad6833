"""Security: principals, SASL mechanisms (PLAIN, SCRAM), SCRAM credentials, TLS contexts and
certificate principals, per-connection authentication state, and the authorizer (ACLs).

server/ owns the sockets and asks a Session what a connection may send; api/ handlers read the
principal from their RequestContext. Nothing here touches a socket.
"""
