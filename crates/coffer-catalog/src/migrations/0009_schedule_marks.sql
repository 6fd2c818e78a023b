-- What the scheduler needs to plan across downtime, by kind: how far it has
-- planned (`planned`, mark `through`), and when each rule (`rule`, mark
-- `<account> <region> <plan> <rule>`) and each discovered resource
-- (`resource`, mark its ARN) first existed, so no job is planned for a
-- time before them. A first-existed mark is written once; `through` only
-- moves forward.
CREATE TABLE schedule_marks (
    kind TEXT NOT NULL,
    mark TEXT NOT NULL,
    at   TEXT NOT NULL,
    PRIMARY KEY (kind, mark)
);
