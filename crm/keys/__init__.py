"""Envelope encryption: per-tenant keys wrapped by a master key, blind indexes, rotation.

- `master`: the master key (`MasterKeyProvider`: wrap/unwrap, what a KMS offers; the
  environment's `CRM_MASTER_KEY` here).
- `keyring`: each tenant's data and index keys, stored wrapped in `crm.tenant_data_keys`,
  unwrapped and cached per process.
- `sealed`: values encrypted under the tenant's current data key, naming its version (`dk<n>`).
- `blind_index`: keyed HMACs for equality lookups on encrypted values.
- `columns`: every encrypted column; `rotate` / `status`: `crm keys rotate|status`.

`crm.secrets` keeps the AES-GCM primitive and the keys values used before data keys.
"""
