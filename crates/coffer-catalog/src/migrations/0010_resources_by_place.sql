-- The resources of an account and region, by ARN: what `objects_in` and
-- `names_in` read for resources without scanning the table.
CREATE INDEX resources_by_place ON resources (account_id, region, arn);
