"""Checks a raw JSON answer against an output shape of the service model:
every member present has the model's type (timestamps as epoch seconds,
as rest-json sends them), and no member is outside the shape."""


def problems(model, shape_name, value, path="$"):
    shapes = model["shapes"]
    shape = shapes[shape_name]
    kind = shape["type"]
    found = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {shape_name} must be an object, got {value!r}"]
        members = shape.get("members", {})
        for name, item in value.items():
            if name not in members:
                found.append(f"{path}.{name}: not a member of {shape_name}")
                continue
            member = members[name]
            if member.get("location"):
                found.append(f"{path}.{name}: travels in the {member['location']}, not the body")
                continue
            found += problems(model, member["shape"], item, f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {shape_name} must be a list"]
        for i, item in enumerate(value):
            found += problems(model, shape["member"]["shape"], item, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {shape_name} must be a map"]
        for k, item in value.items():
            found += problems(model, shape["value"]["shape"], item, f"{path}.{k}")
    elif kind == "string":
        if not isinstance(value, str):
            found.append(f"{path}: {shape_name} must be a string, got {value!r}")
        elif "enum" in shape and value not in shape["enum"]:
            found.append(f"{path}: {value!r} is not one of {shape_name}'s values {shape['enum']}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            found.append(f"{path}: {shape_name} must be a whole number, got {value!r}")
    elif kind in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            found.append(f"{path}: {shape_name} must be a number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            found.append(f"{path}: {shape_name} must be true or false, got {value!r}")
    elif kind == "timestamp":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            found.append(f"{path}: {shape_name} must be epoch seconds, got {value!r}")
    else:
        found.append(f"{path}: {shape_name} has type {kind}, which this checker does not know")
    return found


def check(model, operation, raw):
    """Asserts the last raw answer of `operation` fits its output shape."""
    status, body = raw.last[operation]
    op = model["operations"][operation]
    expected = op["http"].get("responseCode", 200)
    assert status == expected, f"{operation} answered {status}, the model says {expected}"
    if "output" in op:
        found = problems(model, op["output"]["shape"], body)
        assert not found, f"{operation}: " + "; ".join(found)
    return body
