"""`crm import`: other systems' export files become CRM rows and contract events.

A format reads files into canonical records (`records`); the run validates every row of every
file first, then writes them in dependency order through `writer`: one audited change (row,
audit_log, outbox event) per new or changed record, nothing for an unchanged one.
"""
