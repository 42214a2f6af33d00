"""Decode a call recording (WAV, MP3, OGG, mu-law telephony, any rate, mono or stereo) to 16 kHz float channels.

PyAV (FFmpeg, shipped in its wheel) does the decoding. The duration is checked from the container before
decoding and again while decoding, so a recording over the limit costs neither the memory nor the time of
decoding it in full.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000  # what Whisper expects
MAX_BAD_PACKETS = 50  # undecodable packets skipped before a recording counts as corrupt
Samples = npt.NDArray[np.float32]


class AudioError(ValueError):
    """The recording cannot be transcribed; the message says why, for the CallAnalysis error."""


@dataclass(frozen=True)
class DecodedAudio:
    """One or two channels of 16 kHz float samples, plus what the recording was."""

    channels: list[Samples]
    source_rate: int
    codec: str

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / SAMPLE_RATE if self.channels else 0.0


def decode_audio(data: bytes, max_duration_s: float) -> DecodedAudio:
    """Decode ``data``; raises AudioError for a corrupt file, a video, an unsupported codec or a too-long call."""
    if not data:
        raise AudioError("empty recording (0 bytes)")
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise AudioError(f"not a readable audio file: {exc.strerror or exc}") from exc
    with container:
        videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if videos:
            raise AudioError(f"a video file ({videos[0].codec_context.name}), not a call recording")
        if not container.streams.audio:
            raise AudioError("no audio stream in the file")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name if stream.codec_context else None
        if not codec or not stream.codec_context.codec.is_decoder:
            raise AudioError(f"unsupported audio codec {codec or 'unknown'!r}")
        if container.duration and container.duration / av.time_base > max_duration_s:
            raise AudioError(f"recording is {container.duration / av.time_base:.0f} s long; the limit is "
                             f"{max_duration_s:.0f} s (AUTERITY_ASR__MAX_DURATION_S)")
        layout = "mono" if stream.codec_context.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        limit = int(max_duration_s * SAMPLE_RATE)
        chunks: list[npt.NDArray[np.float32]] = []
        decoded = 0
        bad_packets = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:  # a damaged stretch: skip it, as a player would, unless it is all
                    bad_packets += 1
                    if bad_packets > MAX_BAD_PACKETS:
                        raise
                    continue
                for frame in frames:
                    for out in resampler.resample(frame):
                        chunk = out.to_ndarray().astype(np.float32, copy=False)
                        chunks.append(chunk)
                        decoded += chunk.shape[1]
                if decoded > limit:  # the container's duration can lie (VBR without a header, live recorders)
                    raise AudioError(f"recording is longer than the limit of {max_duration_s:.0f} s "
                                     "(AUTERITY_ASR__MAX_DURATION_S)")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().astype(np.float32, copy=False))
        except av.error.FFmpegError as exc:
            raise AudioError(f"corrupt audio ({codec}): {exc.strerror or exc}") from exc
        if not chunks:
            raise AudioError(f"no audio could be decoded ({codec})")
        samples = np.concatenate(chunks, axis=1)
        return DecodedAudio(_distinct_channels(samples), stream.codec_context.sample_rate or SAMPLE_RATE, codec)


def _distinct_channels(samples: npt.NDArray[np.float32]) -> list[Samples]:
    """Both channels of a real stereo call; one channel when the 'stereo' file is a mono call saved twice."""
    if samples.shape[0] == 1:
        return [np.ascontiguousarray(samples[0])]
    left, right = samples[0], samples[1]
    loudness = float(np.abs(samples).max()) or 1.0
    if float(np.abs(left - right).max()) < 0.01 * loudness:
        return [np.ascontiguousarray(left)]
    return [np.ascontiguousarray(left), np.ascontiguousarray(right)]


def is_silent(samples: Samples, threshold_dbfs: float = -55.0) -> bool:
    """True when the loudest 100 ms stays below ``threshold_dbfs``: nothing was said."""
    window = SAMPLE_RATE // 10
    usable = len(samples) // window * window
    if usable == 0:
        return True
    rms = np.sqrt(np.mean(samples[:usable].reshape(-1, window) ** 2, axis=1))
    return bool(20 * np.log10(float(rms.max()) + 1e-12) < threshold_dbfs)
