DROP TABLE IF EXISTS quota_reservations;
DROP TABLE IF EXISTS quota_ledger;
DROP TABLE IF EXISTS quota_accounts;
DROP TABLE IF EXISTS memberships;
