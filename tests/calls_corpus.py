"""A labelled set of recorded dealership calls, synthesised with espeak-ng voices and mixed with sox.

Each call is a script (who says what), the recording's format (stereo or mono, 8 kHz mu-law phone band,
16/44.1 kHz PCM, MP3, OGG, with or without line noise) and the reference: transcript, overall customer
sentiment and the action items a listener would write down. The tests and ``bench/calls.py`` build
recordings from it; nothing here is a recording checked into the repository.

    python -m tests.calls_corpus OUT_DIR     # writes OUT_DIR/<call>.<ext> and OUT_DIR/corpus.json
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

RATE = 22_050  # espeak-ng's output rate
GAP_S = 0.45
AGENT_VOICE, AGENT_RATE = "en-us+m3", 150


@dataclass(frozen=True)
class Line:
    speaker: str  # "agent" or "customer"
    text: str


@dataclass(frozen=True)
class RefAction:
    assignee: str  # "agent" or "customer"
    keywords: tuple[str, ...]  # content words the task must mention
    deadline: str | None = None  # ISO date (UTC) it must resolve to, when the call names one


@dataclass(frozen=True)
class Call:
    name: str
    scenario: str
    lines: tuple[Line, ...]
    sentiment: str
    actions: tuple[RefAction, ...]
    stereo: bool = True
    rate: int = 16_000
    fmt: str = "wav"  # wav | mulaw | mp3 | ogg
    phone_band: bool = False
    noise: bool = False
    agent_channel: int = 0
    customer_voice: str = "en-us+f2"
    customer_rate: int = 150

    @property
    def filename(self) -> str:
        return f"{self.name}.{'wav' if self.fmt in ('wav', 'mulaw') else self.fmt}"

    @property
    def content_type(self) -> str:
        return {"wav": "audio/wav", "mulaw": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg"}[self.fmt]


# Calls start on Monday 2026-11-23 at 15:00 UTC; deadlines in the references are resolved against that.
CALL_START = "2026-11-23T15:00:00+00:00"

A, C = "agent", "customer"
CALLS: tuple[Call, ...] = (
    Call("service-booking", "booking a service", (
        Line(A, "Good afternoon, Riverside Honda service department, this is Mike speaking."),
        Line(C, "Hi Mike, my Civic is due for an oil change and the tires are making a strange noise."),
        Line(A, "No problem. I have an opening on Wednesday morning at nine. Does that work for you?"),
        Line(C, "Wednesday morning is perfect, thank you so much."),
        Line(A, "Great. I will send you a text confirmation tonight, and we will check the tires while it is here."),
        Line(C, "Wonderful, I really appreciate it. See you Wednesday."),
    ), "positive", (
        RefAction(A, ("text", "confirmation"), "2026-11-23"),
        RefAction(A, ("check", "tires")),
    )),
    Call("angry-repeat-repair", "an angry customer, a repeat repair", (
        Line(A, "Lakeside Toyota service, this is Dana. How can I help you?"),
        Line(C, "This is the third time my truck has been in for the same transmission problem. It is ridiculous."),
        Line(A, "I am very sorry to hear that. Let me look at the repair history."),
        Line(C, "I am fed up. I want to talk to the service manager, and I want a loaner car."),
        Line(A, "I understand. I will have the service manager call you back by tomorrow afternoon."),
        Line(C, "Fine. But this is unacceptable, and I am not paying for another diagnosis."),
        Line(A, "I will waive the diagnostic fee and arrange a loaner for your next visit."),
    ), "negative", (
        RefAction(A, ("manager", "call"), "2026-11-24"),
        RefAction(A, ("waive", "fee")),
        RefAction(A, ("arrange", "loaner")),
    ), rate=8_000, fmt="mulaw", phone_band=True, customer_voice="en-us+m1", customer_rate=165),
    Call("sales-follow-up", "a sales follow-up after a test drive", (
        Line(A, "Hi Sarah, this is Tom from Riverside Ford. I am calling to follow up on your test drive."),
        Line(C, "Oh hi Tom. We loved the Explorer, it drove really well."),
        Line(A, "That is great to hear. Would you like me to put together a lease quote?"),
        Line(C, "Yes please. Can you email me a quote with the premium package?"),
        Line(A, "Absolutely. I will email the quote by Friday, and I can hold the blue one until the weekend."),
        Line(C, "Perfect. I will bring my husband on Saturday to sign the papers."),
    ), "positive", (
        RefAction(A, ("email", "quote"), "2026-11-27"),
        RefAction(A, ("hold", "blue")),
        RefAction(C, ("bring", "husband"), "2026-11-28"),
    ), rate=44_100, customer_voice="en-us+f4"),
    Call("finance-callback", "a finance callback about a credit application", (
        Line(A, "Hello, this is Priya from the finance office at Lakeside Toyota, returning your call."),
        Line(C, "Yes, I wanted to know if my credit application was approved."),
        Line(A, "It was approved, but the bank needs a copy of your latest pay stub."),
        Line(C, "Okay, that is good news. I can do that."),
        Line(A, "Please upload the pay stub to our portal by Thursday so we can finalize the loan."),
        Line(C, "Will do. Thanks for calling."),
    ), "positive", (
        RefAction(C, ("upload", "pay", "stub"), "2026-11-26"),
    ), stereo=False, rate=8_000, fmt="mulaw", phone_band=True, customer_voice="en-us+m2"),
    Call("recall-outreach", "recall outreach", (
        Line(A, "Hi, this is Riverside Ford calling about a safety recall on your Escape."),
        Line(C, "A recall? What is wrong with it?"),
        Line(A, "The fuel pump may fail. The repair is free and takes about two hours."),
        Line(C, "I see. I suppose I should get that done."),
        Line(A, "I can schedule the repair for next Tuesday morning. I will also send you the recall notice by email."),
        Line(C, "Okay, Tuesday works."),
    ), "neutral", (
        RefAction(A, ("schedule", "repair"), "2026-12-01"),
        RefAction(A, ("send", "recall", "notice")),
    ), stereo=False, fmt="mp3", customer_voice="en-gb+m1"),
    Call("parts-back-order", "a parts back-order", (
        Line(A, "Parts department, this is Luis."),
        Line(C, "Hi, I am calling about the side mirror you ordered for my Camry. It has been two weeks."),
        Line(A, "I checked, and the mirror is on back-order from the manufacturer. I am sorry about the wait."),
        Line(C, "That is frustrating. I need the car for a trip next month."),
        Line(A, "I will call the distributor today and give you an update by Wednesday."),
        Line(C, "Okay, please do. I would appreciate it."),
    ), "negative", (
        RefAction(A, ("call", "distributor"), "2026-11-23"),
        RefAction(A, ("update",), "2026-11-25"),
    ), fmt="ogg", customer_voice="en-us+f3"),
    Call("trade-in-appraisal", "a trade-in appraisal", (
        Line(A, "Thanks for calling Riverside Honda sales, this is Kevin."),
        Line(C, "Hi Kevin. I want to trade in my Accord and I would like to know what it is worth."),
        Line(A, "Sure. Could you bring the car in for a quick appraisal? It takes about twenty minutes."),
        Line(C, "I can come by on Friday afternoon."),
        Line(A, "Great. Please bring the title and both keys. I will prepare an offer for you."),
        Line(C, "Sounds good, thanks."),
    ), "neutral", (
        RefAction(C, ("bring", "title", "keys")),
        RefAction(A, ("prepare", "offer")),
    ), stereo=False, customer_voice="en-us+m4"),
    Call("missed-call-callback", "a callback after a missed call", (
        Line(A, "Hi, this is Jenna from Lakeside Toyota returning a missed call from this number."),
        Line(C, "Yes, I called about the price of the RAV4 in your online ad."),
        Line(A, "That one is still available. I will text you the out the door price in an hour."),
        Line(C, "Great, and can you check if it has the towing package?"),
        Line(A, "Sure, I will check and include that in the text."),
        Line(C, "Thanks, that is helpful."),
    ), "positive", (
        RefAction(A, ("text", "price")),
        RefAction(A, ("check", "towing")),
    ), stereo=False, rate=8_000, fmt="mulaw", phone_band=True, customer_voice="en-us+f2"),
    Call("lease-end", "a lease-end call", (
        Line(A, "Good morning, this is Alex from Riverside Ford. Your lease ends next month."),
        Line(C, "Right, I was wondering what my options are."),
        Line(A, "You can return the car, buy it out, or lease a new one with a loyalty discount."),
        Line(C, "The loyalty discount sounds interesting. Could you send me the numbers?"),
        Line(A, "Of course. I will email you the buyout price and the new lease offers tomorrow."),
        Line(C, "Thank you, that would be great."),
    ), "positive", (
        RefAction(A, ("email", "buyout"), "2026-11-24"),
    ), fmt="mp3", rate=44_100, agent_channel=1, customer_voice="en-gb+f2"),
    Call("billing-dispute", "an angry customer, a billing dispute", (
        Line(A, "Riverside Honda service, this is Mike."),
        Line(C, "I was charged two hundred dollars more than the estimate. Nobody told me about extra work."),
        Line(A, "I apologize. Let me pull up your invoice."),
        Line(C, "This is terrible service. I never approved those charges and I am very upset."),
        Line(A, "You are right, the extra work needed your approval. I will refund the difference today."),
        Line(C, "I will believe it when I see it. This is the worst experience I have had."),
    ), "negative", (
        RefAction(A, ("refund", "difference"), "2026-11-23"),
    ), noise=True, customer_voice="en-us+m3", customer_rate=170),
    Call("test-drive", "scheduling a test drive", (
        Line(A, "Lakeside Toyota, this is Maria. How can I help?"),
        Line(C, "Hi Maria, I would love to test drive the new Camry hybrid this weekend."),
        Line(A, "Wonderful. I can book you in on Saturday at ten in the morning."),
        Line(C, "That is great, thank you. I am really excited about it."),
        Line(A, "Please bring your driver's license. I will have the car charged and ready."),
        Line(C, "Perfect, see you then."),
    ), "positive", (
        RefAction(C, ("bring", "license")),
        RefAction(A, ("book", "saturday"), "2026-11-28"),
    ), stereo=False, fmt="ogg", customer_voice="en-us+f4"),
    Call("warranty-claim", "a warranty claim that was denied", (
        Line(A, "Riverside Ford warranty desk, this is Chris."),
        Line(C, "I am calling because my warranty claim for the air conditioning was denied. I am really angry."),
        Line(A, "I am sorry. The manufacturer said the damage was not covered."),
        Line(C, "That is ridiculous. The car is only two years old and the air conditioning is still broken."),
        Line(A, "I understand. I will escalate the claim to our regional manager by Friday."),
        Line(C, "You need to fix this, or I am going to file a complaint."),
    ), "negative", (
        RefAction(A, ("escalate", "claim"), "2026-11-27"),
    ), rate=8_000, fmt="mulaw", phone_band=True, customer_voice="en-gb+m1", customer_rate=160),
)


@dataclass
class BuiltCall:
    """A call rendered to a file, with where each line landed in time."""

    call: Call
    path: Path
    duration_s: float
    line_times: list[tuple[float, float]] = field(default_factory=list)

    def reference_transcript(self) -> str:
        return " ".join(line.text for line in self.call.lines)


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"building the call corpus needs {', '.join(missing)} (Debian packages espeak-ng and "
                           "sox; the README's test command installs them)")


def speak(text: str, voice: str, rate: int) -> np.ndarray:
    """espeak-ng's rendering of ``text`` as 22.05 kHz int16 samples."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", out.name, text], check=True)
        with wave.open(out.name) as wav:
            return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.astype(np.int16).tobytes())


def build(call: Call, out_dir: Path) -> BuiltCall:
    """Render a call: each party's track from espeak-ng, then sox mixes, band-limits, adds noise and encodes."""
    require_tools()
    clips = [speak(line.text, AGENT_VOICE if line.speaker == A else call.customer_voice,
                   AGENT_RATE if line.speaker == A else call.customer_rate) for line in call.lines]
    total = sum(len(c) for c in clips) + int(GAP_S * RATE) * (len(clips) + 1)
    tracks = {A: np.zeros(total, np.int16), C: np.zeros(total, np.int16)}
    cursor, times = int(GAP_S * RATE), []
    for line, clip in zip(call.lines, clips, strict=True):
        tracks[line.speaker][cursor:cursor + len(clip)] = clip
        times.append((cursor / RATE, (cursor + len(clip)) / RATE))
        cursor += len(clip) + int(GAP_S * RATE)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / call.filename
    with tempfile.TemporaryDirectory() as tmp:
        agent, customer = Path(tmp, "agent.wav"), Path(tmp, "customer.wav")
        _write_wav(agent, tracks[A])
        _write_wav(customer, tracks[C])
        left, right = (agent, customer) if call.agent_channel == 0 else (customer, agent)
        mixed = Path(tmp, "mixed.wav")
        # -M merges the parties onto their own channels (stereo); -m mixes them into one (mono).
        subprocess.run(["sox", "-R", "-M" if call.stereo else "-m", str(left), str(right), str(mixed)], check=True)
        if call.noise:  # line hiss: white noise as long as the call, mixed under it
            noise, noisy = Path(tmp, "noise.wav"), Path(tmp, "noisy.wav")
            subprocess.run(["sox", "-R", str(mixed), str(noise), "synth", "whitenoise", "vol", "0.015"], check=True)
            subprocess.run(["sox", "-R", "-m", str(mixed), str(noise), str(noisy)], check=True)
            mixed = noisy
        effects = ["sinc", "300-3400"] if call.phone_band else []
        encoding = ["-e", "mu-law"] if call.fmt == "mulaw" else []
        subprocess.run(["sox", "-R", str(mixed), *encoding, "-r", str(call.rate), str(path), *effects, "rate", "-v",
                        str(call.rate)], check=True)
    return BuiltCall(call, path, cursor / RATE, times)


def build_all(out_dir: Path, names: list[str] | None = None) -> list[BuiltCall]:
    built = [build(call, out_dir) for call in CALLS if names is None or call.name in names]
    manifest = [{**asdict(b.call), "file": b.path.name, "line_times": b.line_times} for b in built]
    (out_dir / "corpus.json").write_text(json.dumps(manifest, indent=1))
    return built


def call_named(name: str) -> Call:
    return next(call for call in CALLS if call.name == name)


if __name__ == "__main__":
    for item in build_all(Path(sys.argv[1] if len(sys.argv) > 1 else "calls-corpus")):
        print(f"{item.path}  {item.duration_s:.1f} s")
