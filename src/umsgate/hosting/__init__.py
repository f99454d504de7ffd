"""Connectors in processes of their own (``own_process = true`` on a connector):
`umsgate.hosting.connector` is the gateway process's side (`HostedConnector`),
`umsgate.hosting.process` the connector process's, and `umsgate.hosting.wire`
the frames between them."""
