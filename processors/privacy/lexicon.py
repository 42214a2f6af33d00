"""Word lists the privacy detectors consult: what can follow a name cue without being a name, and the abbreviations
that end in a period without ending a sentence."""

from __future__ import annotations

# Makes and models: "Customer: Honda Civic" names a car, not a person.
VEHICLE_MAKES = frozenset((
    "acura", "alfa", "audi", "bentley", "bmw", "buick", "cadillac", "chevrolet", "chevy", "chrysler", "dodge",
    "ferrari", "fiat", "ford", "genesis", "gmc", "honda", "hummer", "hyundai", "infiniti", "isuzu", "jaguar", "jeep",
    "kia", "lamborghini", "land", "lexus", "lincoln", "lucid", "maserati", "mazda", "mclaren", "mercedes", "benz",
    "mercury", "mini", "mitsubishi", "nissan", "oldsmobile", "polestar", "pontiac", "porsche", "ram", "rivian",
    "rover", "saab", "saturn", "scion", "subaru", "suzuki", "tesla", "toyota", "volkswagen", "vw", "volvo",
))
VEHICLE_MODELS = frozenset((
    "civic", "accord", "cr-v", "crv", "hr-v", "hrv", "pilot", "odyssey", "ridgeline", "insight", "passport",
    "camry", "corolla", "prius", "rav4", "highlander", "tacoma", "tundra", "sienna", "4runner", "sequoia", "avalon",
    "supra", "f-150", "f150", "f-250", "f-350", "mustang", "explorer", "escape", "expedition", "ranger", "bronco",
    "fusion", "focus", "maverick", "taurus", "silverado", "tahoe", "suburban", "equinox", "traverse", "malibu",
    "camaro", "corvette", "colorado", "blazer", "trax", "impala", "sierra", "yukon", "acadia", "terrain", "canyon",
    "escalade", "enclave", "encore", "envision", "wrangler", "cherokee", "compass", "renegade", "gladiator",
    "charger", "challenger", "durango", "caravan", "pacifica", "altima", "sentra", "rogue", "maxima", "murano",
    "pathfinder", "frontier", "titan", "versa", "kicks", "leaf", "elantra", "sonata", "tucson", "santa", "kona",
    "palisade", "ioniq", "optima", "sorento", "sportage", "telluride", "forte", "outback", "forester", "crosstrek",
    "impreza", "wrx", "jetta", "passat", "tiguan", "atlas", "golf", "beetle", "cx-5", "cx5", "cx-9", "cx-30",
    "mx-5", "miata", "model", "cybertruck", "navigator", "aviator", "nautilus", "corsair", "mdx", "rdx", "tlx",
))

# Words a name cue is often followed by that are not names ("Customer Pay", "name is on the title").
NOT_NAMES = frozenset((
    # function words, pronouns, contractions
    "a", "an", "the", "and", "or", "but", "nor", "so", "yet", "if", "then", "than", "that", "this", "these",
    "those", "there", "here", "it", "its", "it's", "i", "i'm", "im", "i'll", "i've", "i'd", "me", "my", "mine",
    "we", "we're", "us", "our", "you", "you're", "your", "he", "he's", "him", "his", "she", "she's", "her", "they",
    "they're", "them", "their", "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "is", "was",
    "are", "were", "be", "been", "am", "has", "have", "had", "do", "does", "did", "would", "can", "could",
    "should", "shall", "might", "must", "not", "no", "yes", "yeah", "ok", "okay", "of", "to", "in", "on",
    "at", "by", "for", "from", "with", "about", "as", "into", "onto", "over", "under", "after", "before", "again",
    "also", "just", "still", "already", "only", "too", "very", "now", "please", "thanks", "thank", "hi", "hello",
    "hey", "dear", "all", "any", "some", "none", "same", "other", "each", "every", "both", "either", "neither",
    # verbs and words that follow "customer"/"owner" in dealership notes
    "calling", "called", "call", "speaking", "says", "said", "states", "stated", "reports", "reported", "wants",
    "wanted", "needs", "needed", "requests", "requested", "asked", "asks", "declined", "declines", "approved",
    "approves", "authorized", "authorizes", "authorised", "advised", "informed", "notified", "aware", "agrees",
    "agreed", "refused", "prefers", "notes", "noted", "understands", "lounge", "waiting", "lives", "live", "living",
    "works", "drives", "owns", "bought", "purchased",
    "waiter", "listed", "spelled", "spelt", "unknown", "confirmed", "pending", "signed", "paid", "pay", "pays",
    "brought", "dropped", "picked", "came", "left", "drove", "towed", "is", "info",
    "information", "name", "names", "number", "account", "id", "portal", "support", "service", "services",
    "relations", "satisfaction", "care", "concern", "concerns", "complaint", "complaints", "request", "warranty",
    "internal", "retail", "fleet", "lease", "loan", "finance", "financing", "sales", "parts", "department", "dept",
    "team", "manager", "advisor", "adviser", "technician", "tech", "dealer", "dealership", "motors", "motor", "auto",
    "automotive", "group", "center", "centre", "vehicle", "vehicles", "car", "cars", "truck", "van", "suv",
    "appointment", "shuttle", "loaner", "rental", "copy", "file", "record", "records", "new", "used", "certified",
    "preowned", "pre-owned", "cpo", "first", "last", "full", "middle", "mr", "mrs", "ms", "miss", "mx", "dr",
    "llc", "inc", "corp", "co", "ltd", "bank", "credit", "financial", "capital",
    # identifiers and labels
    "vin", "ro", "dl", "ssn", "zip", "usa", "us", "dob", "tbd", "n/a", "na", "none", "unknown", "phone", "email",
    "address", "cell", "mobile", "tel", "fax", "street", "st", "ave", "rd",
    # days and the months that are not given names
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "tomorrow", "yesterday",
    "january", "february", "september", "october", "november", "december",
))

# Words ending in a period that do not end a sentence ("owned by Mr. Smith", "12 Oak St. in Dayton").
ABBREVIATIONS = frozenset((
    "mr", "mrs", "ms", "mx", "dr", "jr", "sr", "st", "ave", "av", "rd", "blvd", "ln", "ct", "pl", "ter", "pkwy", "hwy",
    "cir", "trl", "sq", "apt", "ste", "no", "vs", "etc", "inc", "co", "corp", "ltd", "dept", "approx", "est", "mt",
    "ft", "lic", "soc", "sec", "tel", "ph", "ext", "attn",
))

US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA",
    "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR",
    "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
)

STREET_SUFFIXES = (
    "Street", "St", "Avenue", "Ave", "Av", "Road", "Rd", "Boulevard", "Blvd", "Drive", "Dr", "Lane", "Ln", "Way",
    "Court", "Ct", "Place", "Pl", "Terrace", "Ter", "Parkway", "Pkwy", "Highway", "Hwy", "Circle", "Cir", "Trail",
    "Trl", "Square", "Sq", "Pike", "Loop",
)
