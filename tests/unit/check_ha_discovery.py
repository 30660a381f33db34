#!/usr/bin/env python3
"""Every Home Assistant discovery config lowi-p1 publishes, checked against
Home Assistant's own schema and tables, since HA itself cannot run here.

Input: the configs of three meters (gas and water, neither, gas only), one
JSON line each, from `test_ha_discovery --dump`. The live JSON's keys come
from plugin/live_keys.h, the one list the live formatter also uses.

The tables below are copied from the home-assistant/core repository (paths
given at each); where HA is stricter than a table, the rule is stated with
its source. Checked: topic form and ids; every key known (abbreviated or
full) and allowed by the component's schema; required keys; units and state
classes allowed for each device class; unique ids unique per meter and
between meters; one device per meter; the value templates rendered with
Jinja2 (HA's template engine) against a live message with every key set and
one with every nullable key null: only keys of the live JSON, numbers where
HA expects numbers, ON/OFF for the binary sensor; and what HA's Energy
dashboard asks of its energy and price entities.
"""
import json
import os
import re
import subprocess
import sys

import jinja2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
passed = failed = 0


def check(ok, what):
    global passed, failed
    if not ok:
        print("FAIL " + what)
    passed += bool(ok)
    failed += not ok


# homeassistant/components/mqtt/abbreviations.py, ABBREVIATIONS: the
# abbreviated keys discovery expands (those of the keys the sensor and
# binary_sensor schemas below take), DEVICE_ABBREVIATIONS and
# ORIGIN_ABBREVIATIONS (name, sw, url) for the "dev" and "o" objects.
ABBREVIATIONS = {
    "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
    "avty_tpl": "availability_template", "dev": "device", "dev_cla": "device_class", "e": "encoding",
    "en": "enabled_by_default", "ent_cat": "entity_category", "exp_aft": "expire_after",
    "frc_upd": "force_update", "ic": "icon", "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template", "lrst_val_tpl": "last_reset_value_template",
    "name": "name", "obj_id": "object_id", "off_dly": "off_delay", "o": "origin", "ops": "options",
    "pl_avail": "payload_available", "pl_not_avail": "payload_not_available", "pl_off": "payload_off",
    "pl_on": "payload_on", "qos": "qos", "stat_cla": "state_class", "stat_t": "state_topic",
    "uniq_id": "unique_id", "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cns": "connections", "cu": "configuration_url", "ids": "identifiers", "name": "name",
    "mf": "manufacturer", "mdl": "model", "hw": "hw_version", "sw": "sw_version",
    "sa": "suggested_area", "sn": "serial_number",
}
ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version", "url": "support_url"}

# homeassistant/components/mqtt/schemas.py, MQTT_ENTITY_COMMON_SCHEMA (with
# the availability schemas it extends) and config.py, MQTT_RO_SCHEMA (which
# makes state_topic Required) and MQTT_BASE_SCHEMA: keys every read-only
# entity takes.
COMMON_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "payload_available", "payload_not_available", "device", "entity_picture", "origin",
    "enabled_by_default", "entity_category", "icon", "json_attributes_topic",
    "json_attributes_template", "object_id", "unique_id", "qos", "encoding", "state_topic",
    "value_template",
}
# homeassistant/components/mqtt/sensor.py, _PLATFORM_SCHEMA_BASE, and
# binary_sensor.py, PLATFORM_SCHEMA_MODERN.
SCHEMA_KEYS = {
    "sensor": COMMON_KEYS | {"device_class", "expire_after", "force_update", "last_reset_value_template",
                             "name", "options", "suggested_display_precision", "state_class",
                             "unit_of_measurement"},
    "binary_sensor": COMMON_KEYS | {"device_class", "expire_after", "force_update", "name", "off_delay",
                                    "payload_off", "payload_on"},
}
# schemas.py, MQTT_ENTITY_DEVICE_INFO_SCHEMA (at least one of identifiers or
# connections) and MQTT_ORIGIN_INFO_SCHEMA (name Required).
DEVICE_KEYS = set(DEVICE_ABBREVIATIONS.values()) | {"model_id", "via_device"}
ORIGIN_KEYS = set(ORIGIN_ABBREVIATIONS.values())

# homeassistant/components/sensor/const.py: DEVICE_CLASS_UNITS (the units
# each device class allows; m³ is UnitOfVolume.CUBIC_METERS) and
# DEVICE_CLASS_STATE_CLASSES (the state classes it allows), for the device
# classes lowi-p1 could use; STATE_CLASSES.
DEVICE_CLASS_UNITS = {
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"},
    "gas": {"m\u00b3", "ft\u00b3", "CCF"},
    "water": {"m\u00b3", "ft\u00b3", "CCF", "gal", "L"},
    "monetary": None,  # an ISO 4217 currency code, alone
}
DEVICE_CLASS_STATE_CLASSES = {
    "power": {"measurement"},
    "energy": {"total", "total_increasing"},
    "gas": {"total", "total_increasing"},
    "water": {"total", "total_increasing"},
    "monetary": {"total"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# homeassistant/components/binary_sensor/__init__.py, BinarySensorDeviceClass
# (lowi-p1 sets none; any it did would have to be one of these).
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door",
    "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug",
    "power", "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update",
    "vibration", "window",
}
# homeassistant/components/mqtt/binary_sensor.py: DEFAULT_PAYLOAD_ON "ON",
# DEFAULT_PAYLOAD_OFF "OFF".
PAYLOAD_ON, PAYLOAD_OFF = "ON", "OFF"
# homeassistant/components/mqtt/discovery.py, TOPIC_MATCHER: after the
# discovery prefix, <component>/[<node_id>/]<object_id>/config with ids
# of [a-zA-Z0-9_-].
TOPIC = re.compile(r"^homeassistant/(?P<component>\w+)/(?P<node_id>[a-zA-Z0-9_-]+)/(?P<object_id>[a-zA-Z0-9_-]+)/config$")
# homeassistant/components/energy/validate.py: an energy source's sensor is
# device class energy in an energy unit, state class total_increasing (or
# total, or measurement with last_reset); a price entity's state is a float
# and its unit ends with "/<an energy unit>" (_async_validate_price_entity).
ENERGY_PRICE_SUFFIXES = tuple("/" + u for u in DEVICE_CLASS_UNITS["energy"])

# What lowi-p1 means each entity to be (README, "Home Assistant"): the test
# fails when an entity appears, disappears or changes class unseen.
EXPECTED = {
    "import_power": ("sensor", "power"), "export_power": ("sensor", "power"),
    "import_day": ("sensor", "energy"), "import_night": ("sensor", "energy"),
    "export_day": ("sensor", "energy"), "export_night": ("sensor", "energy"),
    "gas": ("sensor", "gas"), "water": ("sensor", "water"),
    "quarter_average": ("sensor", "power"), "quarter_projected": ("sensor", "power"),
    "month_peak": ("sensor", "power"), "billed_peak": ("sensor", "power"), "headroom": ("sensor", "power"),
    "buy_price": ("sensor", None), "sell_price": ("sensor", None),
    "peak_projected": ("binary_sensor", None),
}
METERS = [("4c75252e8c51", True, True), ("e8db84a1b2c3", False, False), ("a0b1c2d3e4f5", True, False)]

header = open(os.path.join(ROOT, "plugin", "live_keys.h")).read()
LIVE_KEYS = re.findall(r"^\tX\((\w+)\)", header, re.M)
check(len(LIVE_KEYS) > 20 and len(set(LIVE_KEYS)) == len(LIVE_KEYS), f"live_keys.h lists distinct keys: {LIVE_KEYS}")

# A live message with every key set, and one with every key that may be
# null (README, "On MQTT") null.
TEXT_KEYS = {"time", "quarter_start", "month", "month_peak_start", "price_start", "history"}
BOOL_KEYS = {"quarter_estimated", "peak_projected"}
NULLABLE = {"import_kw", "export_kw", "month_peak_kw", "month_peak_start", "market_eur_mwh", "buy_c_kwh",
            "sell_c_kwh", "gas_m3", "water_m3"}
full = {}
for i, k in enumerate(LIVE_KEYS):
    full[k] = "2026-12-02T05:00:10Z" if k in TEXT_KEYS else (i % 2 == 0) if k in BOOL_KEYS else 1.25 + i
full["buy_c_kwh"], full["sell_c_kwh"] = 23.456, 4.5
nulls = {k: (None if k in NULLABLE else v) for k, v in full.items()}

env = jinja2.Environment(undefined=jinja2.StrictUndefined)


def render(template, live):
    """The state HA would get: the template rendered with value_json, as
    MqttValueTemplate.async_render_with_possible_json_value does."""
    return env.from_string(template).render(value_json=live, value=json.dumps(live))


def expand(obj, table, where, what):
    out = {}
    for k, v in obj.items():
        check(k in table or k in table.values(), f"{where}: {what} key '{k}' is not one HA knows")
        out[table.get(k, k)] = v
    return out


lines = subprocess.run([sys.argv[1], "--dump"], check=True, capture_output=True, text=True).stdout.splitlines()
messages = [json.loads(line) for line in lines]
all_unique_ids = []
for index, (serial, gas, water) in enumerate(METERS):
    mine = [m for m in messages if m["meter"] == index]
    expected = {o for o in EXPECTED if (o != "gas" or gas) and (o != "water" or water)}
    seen_objects, devices, node_ids = set(), [], set()
    sizes = []
    for msg in mine:
        topic, raw = msg["topic"], msg["payload"]
        sizes.append(len(raw.encode()))
        t = TOPIC.match(topic)
        check(t is not None, f"{topic}: <prefix>/<component>/<node_id>/<object_id>/config with ids [a-zA-Z0-9_-]")
        if t is None:
            continue
        component, object_id = t["component"], t["object_id"]
        node_ids.add(t["node_id"])
        seen_objects.add(object_id)
        check(EXPECTED.get(object_id, ("?",))[0] == component, f"{topic}: {object_id} is a {component}")
        try:
            cfg = json.loads(raw)
        except ValueError as e:
            check(False, f"{topic}: payload is JSON ({e})")
            continue
        cfg = expand(cfg, ABBREVIATIONS, topic, "entity")
        for k in cfg:
            check(k in SCHEMA_KEYS.get(component, ()), f"{topic}: '{k}' is not in HA's {component} schema")
        for k in ("state_topic", "unique_id", "name", "device", "value_template", "expire_after"):
            check(k in cfg, f"{topic}: has {k}")
        check(cfg.get("state_topic") == f"lowi-p1/{serial}/live", f"{topic}: reads lowi-p1/{serial}/live")
        check(isinstance(cfg.get("expire_after"), int) and cfg["expire_after"] > 0,
              f"{topic}: expire_after a positive int (cv.positive_int), got {cfg.get('expire_after')}")
        all_unique_ids.append(cfg.get("unique_id"))
        check(re.fullmatch(r"[a-zA-Z0-9_-]+", str(cfg.get("unique_id"))) is not None
              and serial in cfg.get("unique_id", ""), f"{topic}: unique id {cfg.get('unique_id')} names the meter")
        dev = expand(cfg.get("device", {}), DEVICE_ABBREVIATIONS, topic, "device")
        for k in dev:
            check(k in DEVICE_KEYS, f"{topic}: device key '{k}' is not in HA's device schema")
        check(bool(dev.get("identifiers")) and all(isinstance(i, str) for i in dev["identifiers"]),
              f"{topic}: device has identifiers")
        check(all(isinstance(dev.get(k), str) and dev[k] for k in ("name", "manufacturer", "model")),
              f"{topic}: device has a name, manufacturer and model")
        devices.append(json.dumps(dev, sort_keys=True))
        origin = expand(cfg.get("origin", {}), ORIGIN_ABBREVIATIONS, topic, "origin")
        check(set(origin) <= ORIGIN_KEYS and isinstance(origin.get("name"), str), f"{topic}: origin {origin} has a name")

        dc, sc, unit = cfg.get("device_class"), cfg.get("state_class"), cfg.get("unit_of_measurement")
        check(dc == EXPECTED.get(object_id, (None, "?"))[1], f"{topic}: device class {dc}")
        states = [render(cfg["value_template"], live) for live in (full, nulls)]
        keys_used = set(re.findall(r"value_json\.(\w+)", cfg["value_template"]))
        check(keys_used and keys_used <= set(LIVE_KEYS), f"{topic}: template reads live keys only: {keys_used}")
        if component == "sensor":
            if dc is not None:
                check(unit in DEVICE_CLASS_UNITS[dc], f"{topic}: unit {unit!r} allowed for device class {dc}")
                check(sc in DEVICE_CLASS_STATE_CLASSES[dc], f"{topic}: state class {sc} allowed for device class {dc}")
            check(sc in STATE_CLASSES, f"{topic}: state class {sc} is one of HA's")
            # A state class makes HA expect a number; "None" is HA's
            # PAYLOAD_NONE (mqtt/const.py): the state becomes unknown.
            check(re.fullmatch(r"-?\d+(\.\d+)?", states[0]) is not None, f"{topic}: numeric state {states[0]!r}")
            key = next(iter(keys_used))
            check(states[1] == ("None" if key in NULLABLE else states[0]),
                  f"{topic}: a null {key} gives None (unknown), got {states[1]!r}")
            if dc == "energy":
                check(unit in ("kWh", "Wh") and sc == "total_increasing",
                      f"{topic}: the Energy dashboard takes it as a grid meter")
            if object_id.endswith("_price"):
                check(dc is None and unit.endswith(ENERGY_PRICE_SUFFIXES) and unit.startswith("EUR"),
                      f"{topic}: a price entity's unit per kWh, {unit}")
                check(abs(float(states[0]) - full[key] / 100) < 1e-9, f"{topic}: {full[key]} c€/kWh is {states[0]} EUR/kWh")
        else:
            check(dc is None or dc in BINARY_SENSOR_DEVICE_CLASSES, f"{topic}: binary sensor device class {dc}")
            check(cfg.get("payload_on", PAYLOAD_ON) == PAYLOAD_ON and cfg.get("payload_off", PAYLOAD_OFF) == PAYLOAD_OFF,
                  f"{topic}: default payloads")
            key = next(iter(keys_used))
            check(states[0] == (PAYLOAD_ON if full[key] else PAYLOAD_OFF), f"{topic}: {key}={full[key]} gives {states[0]}")
            flipped = dict(full, **{key: not full[key]})
            check(render(cfg["value_template"], flipped) == (PAYLOAD_ON if flipped[key] else PAYLOAD_OFF),
                  f"{topic}: {key}={flipped[key]} flips it")
    check(seen_objects == expected, f"meter {serial}: entities {sorted(seen_objects)}, expected {sorted(expected)}")
    check(len(mine) == len(seen_objects), f"meter {serial}: one config per entity")
    check(len(set(devices)) == 1, f"meter {serial}: one device, described alike in every config")
    check(len(node_ids) == 1, f"meter {serial}: one node id in its topics: {node_ids}")
    if sizes:
        print(f"meter {serial}: {len(sizes)} configs, {sum(sizes)} bytes, largest {max(sizes)}")
check(len(all_unique_ids) == len(set(all_unique_ids)), "unique ids unique across entities and meters")
print(f"check_ha_discovery: {passed} checks passed, {failed} failed")
sys.exit(1 if failed else 0)
