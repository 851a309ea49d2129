#!/usr/bin/env python3
"""Each column family belongs to one unit of the service. Run by `./scripts/dev test`.

A unit's files (comments and `#[cfg(test)]` code left out) may name only the column families
in CFS for it, plus `Cf::Meta` (shared by key: each unit its own `META_*` keys); every other
file of `src/service/` (the scan, bundles, the anchoring worker, the demo…) names none. Another
unit's data is reached through that unit's public methods, never its column families. The
table is the one in docs/development.md ("The service's units").

Exit 0: every use is by its owner. Exit 1: each foreign use is printed with its line.
"""
import os
import re
import sys

OWNERS = {
    "log": ["log.rs"],
    "master": ["master.rs"],
    "registry": ["registry.rs"],
    "engagements": ["engagements.rs"],
    "issuance": ["issuance.rs", "issuance/items.rs"],
    "custody": ["custody.rs", "custody/submit.rs", "custody/views.rs", "custody/days.rs", "custody/lots.rs",
                "custody/intake.rs", "custody/group.rs", "custody/desk.rs", "custody/nonces.rs"],
    "telemetry": ["telemetry.rs", "telemetry/daily.rs", "telemetry/tally.rs"],
    "consumer": ["complaints.rs", "complaints/credit.rs", "complaints/upheld.rs", "complaints/follow.rs"],
    "printing": ["printing.rs"],
    "anchors": ["anchoring.rs"],
    "keyring": ["keyring.rs"],
    "accounts": ["accounts.rs"],
    "certificates": ["certificates.rs"],
    "grading": ["grading.rs", "grading/facts.rs", "grading/warnings.rs"],
}
CFS = {
    "log": ["Leaves", "Nodes", "Checkpoints"],
    "master": ["Enterprises", "EnterpriseUscc", "Products", "ProductLog"],
    "registry": ["Actors"],
    "engagements": ["Engagements", "ActorEngagements"],
    "issuance": ["Batches", "Codes", "Items", "ItemRefs", "LotBatches", "Idempotency"],
    "custody": ["Lots", "LotRecords", "ItemRecords", "ItemCustody", "Nonces", "CustodyDays"],
    "telemetry": ["Scans", "ScanStats", "ForgedScans", "ScanDays", "ScanTallies"],
    "consumer": ["Complaints", "Credit"],
    "printing": ["PrintJobs", "Prints", "BatchPrintJobs", "PrintDays"],
    "anchors": ["Anchors"],
    "keyring": ["Keys"],
    "accounts": ["ApiTokens"],
    "certificates": ["Certificates", "CertificateRecords"],
    "grading": ["Grades"],
}


def code(path):
    src = open(path, encoding="utf-8").read()
    src = src.split("#[cfg(test)]")[0]
    for n, line in enumerate(src.splitlines(), 1):
        if not line.lstrip().startswith("//"):
            yield n, line


def main(root):
    owner_of = {cf: unit for unit, cfs in CFS.items() for cf in cfs}
    unit_of = {f: unit for unit, files in OWNERS.items() for f in files}
    base = os.path.join(root, "service")
    bad = []
    for dirpath, _, files in os.walk(base):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            unit = unit_of.get(os.path.relpath(path, base).replace(os.sep, "/"))
            if not name.endswith(".rs"):
                continue
            for n, line in code(path):
                for cf in re.findall(r"\bCf::([A-Za-z]+)", line):
                    if (cf != "Meta" or unit is None) and owner_of.get(cf) != unit:
                        bad.append(f"{path}:{n}: Cf::{cf} belongs to "
                                   f"{owner_of.get(cf, 'no unit (add it to CFS)')}, not {unit or 'a file of no unit'}")
    for b in bad:
        print(b)
    print(f"{len(bad)} column-family uses outside their unit" if bad
          else "every column family is used by its own unit only")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src"))
