"""The words the sample data is made of: staff, senders per verdict, subjects, reasons.

Every external domain ends in `.example` or `.test` (RFC 2606) and every IP address is in an
RFC 5737 documentation range, so no real organisation or host is painted as an attacker.
"""

from __future__ import annotations

from dataclasses import dataclass

TENANT_DOMAINS = ("example.com", "example.com", "example.com", "example.org", "eu.example.com")
STAFF = (
    ("Alice Nguyen", "alice.nguyen"),
    ("Bob Martins", "bob.martins"),
    ("Carla Gomez", "carla.gomez"),
    ("David Okafor", "david.okafor"),
    ("Emma Schulz", "emma.schulz"),
    ("Farid Haddad", "farid.haddad"),
    ("Grace Liu", "grace.liu"),
    ("Hiro Tanaka", "hiro.tanaka"),
    ("Isabel Rossi", "isabel.rossi"),
    ("Jonas Berg", "jonas.berg"),
    ("Kemi Adeyemi", "kemi.adeyemi"),
    ("Liam O'Brien", "liam.obrien"),
    ("Maya Patel", "maya.patel"),
    ("Noah Fischer", "noah.fischer"),
    ("Olivia Brown", "olivia.brown"),
    ("Pedro Alves", "pedro.alves"),
    ("Quinn Murphy", "quinn.murphy"),
    ("Rosa Jimenez", "rosa.jimenez"),
    ("Sven Larsen", "sven.larsen"),
    ("Tara Singh", "tara.singh"),
    ("Finance Team", "finance"),
    ("Accounts Payable", "ap"),
    ("HR", "hr"),
    ("Sales", "sales"),
)
EXECUTIVE = ("Dana Whitfield", "dana.whitfield")
# The people the impersonation registry protects: name, mailbox, role.
EXECUTIVES = (
    (*EXECUTIVE, "Chief Executive Officer"),
    ("Marcus Reid", "marcus.reid", "Chief Financial Officer"),
    ("Priya Raman", "priya.raman", "Chief Technology Officer"),
    ("Elena Vogel", "elena.vogel", "General Counsel"),
    ("Tomas Ferreira", "tomas.ferreira", "VP Finance"),
)
# Mailboxes whose delivery fails on release ("bounce" local part), for per-recipient results.
BOUNCING = (("Old Archive", "bounce.archive"), ("Bounce Test", "bounce-test"))
DOCUMENTATION_NETS = ("192.0.2", "198.51.100", "203.0.113")
AS_NAMES = (
    ("EXAMPLE-HOSTING-AS", 64501, "NL"),
    ("DOC-CLOUD-AS", 64502, "US"),
    ("TEST-TRANSIT-AS", 64503, "RU"),
    ("SAMPLE-ISP-AS", 64504, "BR"),
    ("EXAMPLE-MAIL-AS", 64505, "DE"),
    ("RESERVED-VPS-AS", 64506, "SG"),
)

THREAT_CATEGORIES: dict[str, tuple[int, str]] = {
    "CredentialHarvester": (1, "Attempts to collect account credentials"),
    "LinkReputation": (2, "Links to hosts with a poor reputation"),
    "BrandImpersonation": (3, "Pretends to come from a well-known brand"),
    "NewDomain": (4, "Sent from or links to a recently registered domain"),
    "IPReputation": (5, "Sending IP address has a poor reputation"),
    "Malware": (6, "Carries or links to malicious software"),
    "BEC": (7, "Business email compromise"),
    "ExecutiveImpersonation": (8, "Display name of an executive on an outside address"),
    "Lookalike": (9, "Domain that looks like the organisation's own"),
    "FinancialRequest": (10, "Asks for payment, bank details or gift cards"),
    "Suspicious": (11, "Several weak signals together"),
    "Spoof": (12, "Forged sender of a protected domain"),
    "DMARCFail": (13, "Fails the sender domain's DMARC policy"),
    "Spam": (14, "Unsolicited commercial content"),
    "Bulk": (15, "Legitimate bulk or marketing mail"),
    "ASNReputation": (16, "Sending network has a poor reputation"),
}


@dataclass(frozen=True)
class Profile:
    """How the mail of one verdict looks: who sends it, what it says and why it was flagged."""

    senders: tuple[tuple[str, str, str], ...]  # display name, local part, domain
    subjects: tuple[str, ...]
    reasons: tuple[str, ...]
    categories: tuple[str, ...]
    links: tuple[tuple[str, str], ...] = ()  # href template, visible text
    attachments: tuple[tuple[str, str], ...] = ()  # file name template, content type
    auth_pass: float = 0.9  # chance that each of SPF, DKIM, DMARC passes
    quarantine: float = 0.0


PROFILES: dict[str, Profile] = {
    "MALICIOUS": Profile(
        senders=(
            ("Microsoft 365", "no-reply", "m365-account-security.example"),
            ("DocuSign", "dse", "docusign-envelopes.test"),
            ("IT Service Desk", "helpdesk", "it-support-portal.example"),
            ("Voicemail", "voicemail", "pbx-notify.test"),
            ("Accounts Receivable", "billing", "invoices-billing.example"),
            ("SharePoint Online", "share", "sharepoint-files.test"),
        ),
        subjects=(
            "Action required: your mailbox is almost full",
            "Your password expires in 24 hours",
            '{colleague} shared "Q{q} payroll.xlsx" with you',
            "DocuSign: please review and sign NDA-{n}",
            "You have a new voicemail ({secs}s)",
            "Overdue invoice #{n}",
        ),
        reasons=(
            "Credential harvesting link: {link_host_dotted} imitates a Microsoft sign-in page",
            "Sender domain {domain_dotted} was registered {days} days ago",
            "Link reputation: {link_host_dotted} is a known phishing host",
            "Attachment {attachment} contains an HTML credential form",
            "Selector is a source of spam/uce : Smtp-Helo-Server-Ip={ip_dotted}",
        ),
        categories=("CredentialHarvester", "LinkReputation", "BrandImpersonation", "Malware"),
        links=(
            (
                "https://login.{domain}/common/oauth2/authorize?session={token}",
                "https://login.microsoftonline.com",
            ),
            ("https://{domain}/secure/review?doc={token}", "Review document"),
            ("http://{domain}/mailbox/upgrade?u={token}", "Upgrade mailbox"),
        ),
        attachments=(
            ("Invoice_{n}.html", "text/html"),
            ("Payroll_Q{q}.xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12"),
            ("Voicemail_{secs}s.htm", "text/html"),
        ),
        auth_pass=0.35,
        quarantine=0.9,
    ),
    "MALICIOUS-BEC": Profile(
        senders=(
            (EXECUTIVE[0], "dana.whitfield.office", "freemail.example"),
            (EXECUTIVE[0], "ceo", "examp1e-corp.test"),
            ("Dana W.", "d.whitfield", "mobile-mail.example"),
        ),
        subjects=(
            "Urgent request",
            "Are you at your desk?",
            "Wire transfer needed today",
            "Change of bank details for invoice {n}",
            "Gift cards for the team",
        ),
        reasons=(
            "Display name impersonates executive {executive}",
            "Reply-To differs from From and is a free-mail address",
            "Payment request language from an external sender",
            "Lookalike of tenant domain example[dot]com",
        ),
        categories=("BEC", "ExecutiveImpersonation", "Lookalike", "FinancialRequest"),
        auth_pass=0.7,
        quarantine=0.85,
    ),
    "SUSPICIOUS": Profile(
        senders=(
            ("Parcel Delivery", "tracking", "parcel-status.example"),
            ("Vendor Portal", "portal", "vendor-onboarding.test"),
            ("Account Security", "alerts", "account-notice.example"),
        ),
        subjects=(
            "Package delivery failed: reschedule now",
            "New sign-in to your account",
            "Re: outstanding payment",
            "Updated vendor banking form",
        ),
        reasons=(
            "Link to recently registered domain {link_host_dotted}",
            "Sender has no prior correspondence with the recipient",
            "Urgency language in subject",
        ),
        categories=("NewDomain", "LinkReputation", "Suspicious"),
        links=(("https://{domain}/track?id={token}", "Track your parcel"),),
        attachments=(("Vendor_form_{n}.pdf", "application/pdf"),),
        auth_pass=0.6,
        quarantine=0.3,
    ),
    "SPOOF": Profile(
        senders=(
            ("Payroll", "payroll", "example.com"),
            ("IT Helpdesk", "it", "example.com"),
            ("HR", "hr", "example.com"),
        ),
        subjects=(
            "Updated payroll calendar",
            "Mandatory security training",
            "Your mailbox quota",
        ),
        reasons=(
            "SPF fail for example[dot]com from {ip_dotted}",
            "DMARC fail: header From example[dot]com is not aligned",
            "Spoofed internal sender",
        ),
        categories=("Spoof", "DMARCFail"),
        auth_pass=0.05,
        quarantine=0.5,
    ),
    "SPAM": Profile(
        senders=(
            ("Prize Center", "winner", "prize-center.test"),
            ("Crypto Gains", "invest", "crypto-gains.example"),
            ("Pharma Deals", "sales", "cheap-pharma.test"),
        ),
        subjects=(
            "You won a $500 gift card!",
            "Double your crypto in 7 days",
            "Cheap meds, no prescription",
            "Congratulations, you have been selected",
        ),
        reasons=(
            "Spam content score {score}",
            "Sender IP {ip_dotted} is on a spam block list",
            "Bulk mailer with forged headers",
        ),
        categories=("Spam", "IPReputation", "ASNReputation"),
        links=(("https://{domain}/claim?ref={token}", "Claim now"),),
        auth_pass=0.5,
        quarantine=0.25,
    ),
    "BULK": Profile(
        senders=(
            ("Acme Newsletter", "news", "newsletter.acme.example"),
            ("SaaSVendor Events", "events", "events.saasvendor.example"),
            ("ShopMart", "deals", "shopmart.example"),
        ),
        subjects=(
            "Weekly product digest",
            "Webinar: zero trust in 30 minutes",
            "50% off this weekend only",
            "Your monthly statement is ready",
        ),
        reasons=("Bulk sender with List-Unsubscribe", "Marketing content"),
        categories=("Bulk",),
        links=(
            ("https://{domain}/unsubscribe?u={token}", "Unsubscribe"),
            ("https://{domain}/offers", "See the offers"),
        ),
    ),
    "NONE": Profile(
        senders=(
            ("Jordan Lee", "jordan.lee", "partner-firm.example"),
            ("Acme Support", "support", "acme.example"),
            ("Sam Ortiz", "sam.ortiz", "lawfirm.test"),
            ("Payroll Provider", "statements", "payroll-provider.example"),
        ),
        subjects=(
            "Team meeting notes",
            "Lunch on Friday?",
            "Q{q} planning deck",
            "Re: project status",
            "Expense report approved",
            "Contract draft v{n}",
        ),
        reasons=(),
        categories=(),
        links=(("https://docs.partner-firm.example/share/{token}", "Shared folder"),),
        attachments=(
            (
                "Contract_v{n}.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
        ),
        auth_pass=0.97,
    ),
    "ENCRYPTED": Profile(
        senders=(("Secure Mail", "secure", "partner-firm.example"),),
        subjects=("Encrypted: contract draft", "Encrypted: board minutes"),
        reasons=("Message body is encrypted (S/MIME) and could not be scanned",),
        categories=(),
        attachments=(("smime.p7m", "application/pkcs7-mime"),),
    ),
    "EXTERNAL": Profile(
        senders=(("Calendar", "calendar", "scheduling.example"),),
        subjects=("Invitation: quarterly review",),
        reasons=("Delivered by an external gateway",),
        categories=(),
    ),
    "UNKNOWN": Profile(
        senders=(("", "postmaster", "relay.test"),),
        subjects=("(no subject)", "Undeliverable: {n}"),
        reasons=(),
        categories=(),
    ),
}

# Relative frequency of each verdict in the sample, roughly what a mid-size tenant sees.
DISPOSITION_WEIGHTS = {
    "NONE": 30,
    "MALICIOUS": 14,
    "SPAM": 14,
    "BULK": 14,
    "SUSPICIOUS": 11,
    "SPOOF": 6,
    "MALICIOUS-BEC": 5,
    "ENCRYPTED": 2,
    "EXTERNAL": 2,
    "UNKNOWN": 2,
}
