"""Learner cards as a PDF (placeholder by the API helper: the cards helper's version replaces it at merge)."""

from __future__ import annotations

from intake import learner_service
from intake.domain import Role, StaffMember
from intake.errors import NotFound, PermissionDenied


def _pdf(lines: list[str]) -> bytes:
    clean = [line.replace("\\", "").replace("(", "").replace(")", "") for line in lines]
    text = " ".join(f"({line}) Tj T*" for line in clean)
    stream = f"BT /F1 10 Tf 12 TL 36 756 Td {text} ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # the binary comment line PDF writers put after the header
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def learner_cards(
    requestor: StaffMember, facility_id: str, learner_ids: list[str], reset_passwords: bool = False
) -> bytes:
    """One card per learner of the facility, with a new password each when reset_passwords is set."""
    learner_service.list_learners(requestor, facility_id, limit=1)  # NotFound outside scope
    if reset_passwords and requestor.role is Role.EDUCATOR:
        raise PermissionDenied("Requestor does not have permission to reset these passwords")
    lines = []
    for learner_id in learner_ids:
        learner = learner_service.get_learner(requestor, learner_id)
        if learner.facility_id != facility_id:
            raise NotFound("No such learner")
        line = f"{learner.first_name} {learner.last_name} {learner.username or ''} {learner.doc_id}"
        if reset_passwords:
            line += " " + (learner_service.reset_password(requestor, learner_id, None).generated_password or "")
        lines.append(line)
    return _pdf(lines)
