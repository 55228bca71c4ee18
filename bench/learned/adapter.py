"""The adapter from any CompressAI ``CompressionModel`` to the harness's codec contract.

:class:`CompressionModelCodec` is the public base class of learned codecs: a subclass names its
operating points and builds (loads) the model of one; the base does the rest, the same for every
model — the zoo's architectures (``codecs/compressai_models.py``) and a plug-in's own network
(``docs/plugins.md``)::

    class MyCodec(CompressionModelCodec):
        def default_points(self) -> list[str]:
            return ["lambda0.0130"]

        def load(self, point: str) -> torch.nn.Module:
            model = MyNet()  # a compressai.models.CompressionModel subclass
            model.load_state_dict(torch.load(f"my-{point}.pth"))
            return model

A coder (:class:`CompressionModelCoder`) turns an H×W×3 uint8 image into a float tensor (``/255`` as
torchvision's ``ToTensor``), pads it, runs the model's own ``compress()``, and wraps the strings and
latent shape in the harness's bitstream container (:mod:`bench.learned.bitstream`); ``decode`` needs
nothing but those bytes (and the weights). The model must state its ``downsampling_factor`` (as
CompressAI's models do: 16 for the factorized prior, 64 for the hyperprior models).

Padding modes (recorded in each row's ``padding`` column and in the bitstream's mode byte):

* ``model`` (default): pad right and bottom to the model's own multiple (``downsampling_factor``) by
  replicating the last row/column, crop back after decoding. Replication continues the image, so
  the padded strip is cheap to code and adds no artificial black edge that would cost bits and
  ring into the border pixels; zeros would.
* ``eval_model``: exactly ``compressai.utils.eval_model``: centred zero padding to a multiple of 64
  (``compressai.ops.compute_padding``), cropped back with negative padding.

Reconstructions are ``(x̂·255).clamp(0, 255).round()`` (round half to even, as ``torch.round``)
cast to uint8 — the same arithmetic as ``eval_model``'s ``compute_metrics``, so pixels match it.

Warm-up (:meth:`CompressionModelCoder.warm_up`, untimed): ``forward`` at the image's shape, then a
round trip of one small crop (the entropy coder; an autoregressive model's per-position loop).

Integrity check (:meth:`CompressionModelCoder.verify`, outside the timed region): hooks on the model
keep *references* to tensors the model computes anyway (the analysis output y, z; the inputs of
``h_s`` and ``g_s``; for autoregressive models the ŷ tensor ``_compress_ar`` fills in place), so
encode and decode do no extra work. Afterwards the encoder's ŷ (and ẑ) is derived from them with
the entropy model's own ``quantize(…, "dequantize", means)`` — the values the entropy coder was
given — and compared exactly with what the decoder fed to ``g_s`` (and ``h_s``). It needs CompressAI's
layout (``g_a``/``g_s``, optionally ``h_a``/``h_s``, ``entropy_bottleneck``, ``gaussian_conditional``);
a model without ``g_a``/``g_s``, or a coder with ``latent_check = False``, skips it. The rate estimate
(``bpp_estimated``: −Σ log2 of ``forward``'s likelihoods) and its comparison with the payload work for
any model.

torch and compressai are imported only when a codec is built.
"""

from __future__ import annotations

import hashlib
import math
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.codec import Codec, Coder
from bench.core.errors import CodecError
from bench.core.options import Option, resolve
from bench.learned import bitstream
from bench.learned.models import model_kind
from bench.learned.padding import mode_multiple, pad_offsets, pad_tensor

if TYPE_CHECKING:
    import torch

    from bench.learned.checkpoint import LoadedModel

__all__ = ["DEVICES", "OPTIONS", "PADDINGS", "CompressionModelCodec", "CompressionModelCoder", "LatentCapture",
           "weights_sha256"]

DEVICES = ("auto", "cpu", "cuda")
PADDINGS = bitstream.MODES

#: The options of every such codec (``--device cpu`` or ``--codec-args NAME:device=cpu``); a family
#: adds its own after them (the zoo codecs: where the weights come from).
OPTIONS = (
    Option("device", str, "auto", "where the model runs; auto = cuda when available", choices=DEVICES,
           flag="--device"),
    Option("padding", str, "model", "pad right/bottom to the model's multiple by replication (model), or centred "
           "zeros to 64 as compressai's eval_model", choices=PADDINGS, flag="--padding"),
    Option("update", bool, True, "recompute the entropy tables from the weights after loading "
           "(update(force=True)); false keeps the checkpoint's tables", flag="--no-update"),
)
#: A note is added when the model's estimate of the rate and the payload differ by more than this…
ESTIMATE_TOLERANCE = 0.03
#: … and by more than the rANS coder's fixed cost per string (64-bit final state, 32-bit word alignment).
FLUSH_BITS_PER_STRING = 96


class LatentCapture:
    """References to the tensors the model computes while encoding and decoding, for the latent check.

    Hooks store references only (no copy, no computation, no device synchronisation). Only the
    phase that is on (``"encode"`` or ``"decode"``) records, so other forward passes leave it alone.
    """

    def __init__(self, model: Any) -> None:
        self.phase: str | None = None
        self.data: dict[str, dict[str, Any]] = {"encode": {}, "decode": {}}
        self.kind = model_kind(model)
        self.autoregressive = self.kind.autoregressive
        self._handles = []

        def keep_output(key: str) -> Callable[..., None]:
            def hook(module: Any, inputs: Any, output: Any) -> None:
                if self.phase:
                    self.data[self.phase][key] = output
            return hook

        def keep_input(key: str) -> Callable[..., None]:
            def hook(module: Any, inputs: Any) -> None:
                if self.phase:
                    self.data[self.phase][key] = inputs[0]
            return hook

        #: The model has CompressAI's analysis and synthesis transforms, so its latents can be checked.
        self.complete = hasattr(model, "g_a") and hasattr(model, "g_s")
        if not self.complete:
            return
        self._handles.append(model.g_a.register_forward_hook(keep_output("y")))
        self._handles.append(model.g_s.register_forward_pre_hook(keep_input("y_hat")))
        self._handles.append(model.g_s.register_forward_hook(keep_output("x_hat")))
        if self.kind.hyperprior:
            self._handles.append(model.h_a.register_forward_hook(keep_output("z")))
            self._handles.append(model.h_s.register_forward_pre_hook(keep_input("z_hat")))
            self._handles.append(model.h_s.register_forward_hook(keep_output("params")))
        if self.autoregressive:
            # compress() hands _compress_ar a padded ŷ tensor that it fills in place with the values
            # it codes; keep that tensor (a reference) and its padding.
            original = model._compress_ar

            def compress_ar(y_hat: Any, params: Any, height: int, width: int, kernel_size: int,
                            padding: int) -> bytes:
                string = original(y_hat, params, height, width, kernel_size, padding)
                if self.phase == "encode":
                    self.data["encode"]["y_hat_padded"] = (y_hat, padding)
                return string

            model._compress_ar = compress_ar

    def start(self, phase: str) -> None:
        self.phase = phase
        self.data[phase] = {}

    def stop(self) -> None:
        self.phase = None


class CompressionModelCoder(Coder):
    """One operating point of a :class:`CompressionModelCodec`: a loaded model on a device, a padding mode."""

    #: How ŷ is entropy-coded (:data:`bench.learned.bitstream.CODERS`), written into the bitstream; a
    #: subclass that codes it another way overrides :meth:`compress_model`/:meth:`decompress_model` and this.
    context_coder = bitstream.REFERENCE
    #: Compare the decoder's latents with the encoder's after each round trip (:meth:`latent_problem`);
    #: off by itself for a model without ``g_a``/``g_s``. A model whose latents are not CompressAI's ŷ/ẑ
    #: (e.g. coded in slices) sets it False, or overrides :meth:`encoder_latents`.
    latent_check = True

    def __init__(self, codec: CompressionModelCodec, loaded: LoadedModel) -> None:
        import torch

        self.codec = codec
        self.loaded = loaded
        self.point = loaded.point
        self.device = codec.device
        self.model = loaded.model.to(self.device).eval()
        if not hasattr(self.model, "downsampling_factor"):
            raise CodecError(f"{codec.name}: the model {type(self.model).__name__} states no downsampling_factor; "
                             "give its class one (the factor g_a divides height and width by, e.g. 16), as "
                             "CompressAI's models do")
        self.capture = LatentCapture(self.model)
        self.kind = self.capture.kind
        self.multiple = mode_multiple(codec.padding, self.kind.multiple)
        self.latent_factor = self.kind.multiple
        self.groups = self.kind.groups
        self._encoded: tuple[bytes, Any] | None = None  # (bytes, padded input) of the last encode
        self._decoded: bytes | None = None
        self._torch = torch

    # --- image ↔ tensor -----------------------------------------------------------------------

    def _check_image(self, image: np.ndarray) -> None:
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3):
            raise CodecError(f"{self.codec.name} encodes H×W×3 uint8 RGB images, got "
                             f"{getattr(image, 'shape', type(image).__name__)} {getattr(image, 'dtype', '')}")

    def padded_input(self, image: np.ndarray) -> Any:
        """The 1×3×H'×W' float tensor (values k/255) the model compresses, on the coder's device."""
        torch = self._torch
        height, width = image.shape[:2]
        if not image.flags.writeable:  # e.g. np.asarray(PIL image); torch wants a writable buffer
            image = image.copy()
        x = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)
        x = x.permute(2, 0, 1).contiguous().to(torch.float32).div(255).unsqueeze(0)
        return pad_tensor(x, self.multiple, self.codec.padding)

    def _crop(self, x_hat: Any, height: int, width: int) -> Any:
        left, _, top, _ = pad_offsets(height, width, self.multiple, self.codec.padding)
        return x_hat[:, :, top:top + height, left:left + width]

    def to_pixels(self, x_hat: Any) -> np.ndarray:
        """1×3×H×W float in [0, 1] → H×W×3 uint8, as eval_model: ``(x·255).clamp(0, 255).round()``."""
        pixels = x_hat[0].mul(255).clamp_(0, 255).round_()
        return pixels.to(device="cpu", dtype=self._torch.uint8).permute(1, 2, 0).contiguous().numpy()

    # --- the contract -------------------------------------------------------------------------

    def encode(self, image: np.ndarray) -> bytes:
        self._check_image(image)
        height, width = image.shape[:2]
        x = self.padded_input(image)
        self.capture.start("encode")
        try:
            with self._torch.no_grad():
                out = self.compress_model(x)
        finally:
            self.capture.stop()
        data = bitstream.pack(out["strings"], tuple(out["shape"]), height, width, mode=self.codec.padding,
                              coder=self.context_coder)
        self._encoded = (data, x)
        return data

    def decode(self, data: bytes) -> np.ndarray:
        stream = bitstream.parse(data)
        if stream.mode != self.codec.padding:
            raise CodecError(f"bitstream made with padding mode {stream.mode!r}, this coder uses "
                             f"{self.codec.padding!r}; decode with --padding {stream.mode}")
        if stream.coder != self.context_coder:
            raise CodecError(f"bitstream made by the {stream.coder} coder of ŷ, {self.codec.name} decodes "
                             f"{self.context_coder} streams; decode it with {bitstream.CODER_CODECS[stream.coder]}")
        self._check_stream(stream)
        self.capture.start("decode")
        try:
            with self._torch.no_grad():
                out = self.decompress_model(stream.strings, list(stream.shape))
        finally:
            self.capture.stop()
        self._decoded = data
        return self.to_pixels(self._crop(out["x_hat"], stream.height, stream.width))

    @property
    def last_bitstream(self) -> bytes | None:
        """The bitstream of the last :meth:`encode` (None before the first)."""
        return self._encoded[0] if self._encoded is not None else None

    def compress_model(self, x: Any) -> dict[str, Any]:
        """The model's ``compress(x)`` (under no_grad, capture on): ``{"strings", "shape"}``."""
        return self.model.compress(x)

    def decompress_model(self, strings: list[list[bytes]], shape: list[int]) -> dict[str, Any]:
        """The model's ``decompress(strings, shape)`` (under no_grad, capture on): ``{"x_hat"}``."""
        return self.model.decompress(strings, shape)

    def warm_up(self, image: np.ndarray) -> None:
        """Every network at this image's shapes, then the entropy coder, before the timed calls.

        ``forward`` runs g_a, h_a, h_s, the context model and g_s on tensors of exactly the shapes
        that ``compress``/``decompress`` of this image give them; a round trip of one crop of the
        model's multiple then runs the entropy coder and, for autoregressive models, the
        per-position loop, whose windows have the same shapes at any image size. The timed calls
        that follow are as warm as after a full round trip (one Kodak image, CPU: first timed call
        within noise of the third for all three study models), at a fraction of its cost where the
        loop dominates: mbt2018, 1.4 s instead of 12.9 s per image shape.
        """
        self._check_image(image)
        with self._torch.no_grad():
            self.model(self.padded_input(image))
        self.decode(self.encode(image[: self.multiple, : self.multiple]))

    def _check_stream(self, stream: bitstream.Bitstream) -> None:
        """Refuse a well-formed bitstream that this model cannot have written (for a model laid out as
        CompressAI's: one string per latent, the smallest latent's shape)."""
        if not self.capture.complete:
            return
        counts = [len(group) for group in stream.strings]
        if counts != [1] * self.groups:
            raise CodecError(f"{self.codec.name} bitstreams hold {self.groups} group(s) of one string, "
                             f"this one holds {counts}; it was made by another codec")
        left, right, top, bottom = pad_offsets(stream.height, stream.width, self.multiple, self.codec.padding)
        padded = (stream.height + top + bottom, stream.width + left + right)
        expected = (padded[0] // self.latent_factor, padded[1] // self.latent_factor)
        if tuple(stream.shape) != expected:
            raise CodecError(f"bitstream latent shape {stream.shape} does not fit a "
                             f"{stream.height}×{stream.width} image ({expected} expected); "
                             "it was made by another codec or padding")

    def identity(self) -> dict[str, Any]:
        # The weights' hash identifies them; where they came from (zoo, mirror, cache) does not
        # change the bitstream, so it stays out of the cache key.
        return {"weights_sha256": self.loaded.sha256, "config": dict(self.loaded.config)}

    def provenance(self) -> dict[str, Any]:
        return {"weights_origin": str(self.loaded.origin), "weights_updated": self.loaded.updated}

    def row_fields(self) -> dict[str, Any]:
        kind = "replicate" if self.codec.padding == "model" else "zeros-centred"
        return {
            "device": str(self.device),
            "padding": f"{kind}-{self.multiple}",
            "weights_sha256": self.loaded.sha256,
        }

    # --- integrity, outside the timed region --------------------------------------------------

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        """Latents ŷ (ẑ) decoded = latents encoded; the model's own rate estimate vs the payload."""
        if self._encoded is None or self._encoded[0] != data:
            self.encode(image)  # the captures are of another call: redo this image (untimed)
        if self._decoded != data:
            self.decode(data)
        x = self._encoded[1]
        height, width = image.shape[:2]
        result: dict[str, Any] = {}
        notes = []
        if self._encoded[0] != data:
            result["status"] = "failed"
            notes.append("latent mismatch: the bitstream is not what the encoder writes for this image "
                         "(non-deterministic encoder, or another image's bitstream)")
        elif self.latent_check and self.capture.complete:
            problem = self.latent_problem()
            if problem:
                result["status"] = "failed"
                notes.append(f"latent mismatch: {problem}")
        with self._torch.no_grad():
            likelihoods = self.likelihoods(x)
            bits = sum(float(-self._torch.log2(lk).sum()) for lk in likelihoods.values())
        estimated = bits / (height * width)
        result["bpp_estimated"] = estimated
        stream = bitstream.parse(data)
        result["payload_bytes"] = stream.payload_bytes  # the entropy coder's strings, without our header
        payload_bpp = 8.0 * stream.payload_bytes / (height * width)
        slack = FLUSH_BITS_PER_STRING * sum(len(group) for group in stream.strings) / (height * width)
        if not math.isfinite(estimated):
            notes.append("bpp_estimated is not finite")
        elif abs(estimated - payload_bpp) > max(ESTIMATE_TOLERANCE * payload_bpp, slack):
            notes.append(f"bpp_estimated {estimated:.4f} differs from the payload's {payload_bpp:.4f} by "
                         f"{100 * (estimated / payload_bpp - 1):+.1f}% (stale entropy tables? "
                         "load with update=True)")
        if notes:
            result["note"] = "; ".join(notes)
        return result

    def likelihoods(self, x: Any) -> dict[str, Any]:
        """The likelihoods ``model.forward(x)`` gives for the last encoded (padded) input ``x``.

        They are computed from the encoder's own y, z and ``h_s`` output — the tensors forward would
        recompute from the same input with the same modules — followed by the rest of forward's
        steps, so the values are identical without running ``g_a``, ``h_a``, ``h_s`` and ``g_s``
        again. Without those captures, ``model.forward`` runs.
        """
        torch = self._torch
        enc = self.capture.data["encode"]
        model = self.model
        if "y" not in enc or (self.kind.hyperprior and not {"z", "params"} <= enc.keys()):
            return model(x)["likelihoods"]
        if "z" not in enc:
            return {"y": model.entropy_bottleneck(enc["y"])[1]}
        params = enc["params"]
        if self.capture.autoregressive:  # forward's context comes from round(y), not the coded ŷ
            y_hat = model.gaussian_conditional.quantize(enc["y"], "dequantize")
            params = model.entropy_parameters(torch.cat((params, model.context_prediction(y_hat)), dim=1))
        if self.kind.mean_scale:  # scales, means
            scales, means = params.chunk(2, 1)
            y_likelihoods = model.gaussian_conditional(enc["y"], scales, means=means)[1]
        else:
            y_likelihoods = model.gaussian_conditional(enc["y"], params)[1]
        return {"y": y_likelihoods, "z": model.entropy_bottleneck(enc["z"])[1]}

    def encoder_latents(self) -> dict[str, Any]:
        """ŷ (and ẑ) as the entropy coder was given them during the last encode."""
        enc = self.capture.data["encode"]
        model = self.model
        latents = {}
        if "z" in enc:
            eb = model.entropy_bottleneck
            latents["z_hat"] = eb.quantize(enc["z"], "dequantize", eb._get_medians().detach().reshape(1, -1, 1, 1))
        if self.capture.autoregressive:
            y_hat, p = enc["y_hat_padded"]
            latents["y_hat"] = y_hat[:, :, p:y_hat.size(2) - p, p:y_hat.size(3) - p]
        elif "z" in enc:
            gc = model.gaussian_conditional
            means = None
            if self.kind.mean_scale:  # scales, means
                means = enc["params"].chunk(2, 1)[1]
            latents["y_hat"] = gc.quantize(enc["y"], "dequantize", means)
        else:
            eb = model.entropy_bottleneck
            latents["y_hat"] = eb.quantize(enc["y"], "dequantize", eb._get_medians().detach().reshape(1, -1, 1, 1))
        return latents

    def latent_problem(self) -> str | None:
        """None when the decoder's ŷ (ẑ) equal the encoder's exactly; else what differs."""
        torch = self._torch
        dec = self.capture.data["decode"]
        try:
            encoded = self.encoder_latents()
        except KeyError as exc:
            return f"the encoder's {exc.args[0]} was not captured"
        problems = []
        for key, name in (("z_hat", "ẑ"), ("y_hat", "ŷ")):
            if key not in encoded:
                continue
            if key not in dec:
                problems.append(f"the decoder's {name} was not captured")
                continue
            a, b = encoded[key], dec[key]
            if a.shape != b.shape:
                problems.append(f"{name} shape {tuple(b.shape)} decoded, {tuple(a.shape)} encoded")
            elif torch.isnan(b).any() or torch.isnan(a).any():
                problems.append(f"{name} contains NaN")
            elif not torch.equal(a, b):
                diff = (a - b).abs()
                problems.append(f"{name} differs in {int((diff > 0).sum())} of {a.numel()} elements "
                                f"(max |Δ| {float(diff.max()):g})")
        x_hat = dec.get("x_hat")
        if x_hat is not None and torch.isnan(x_hat).any():
            problems.append("the decoded image contains NaN")
        return "; ".join(problems) or None


class CompressionModelCodec(Codec):
    """Base class of a learned codec: any CompressAI ``CompressionModel`` behind the codec contract.

    A subclass gives :meth:`default_points` and :meth:`load` (the model of one operating point, weights
    loaded); the base pads, codes, checks the latents, estimates the rate, warms up and writes the
    bitstream header (:class:`CompressionModelCoder`), and records device, padding and versions in
    :meth:`identity`. Register it with the options :data:`OPTIONS` (and any of its own)::

        @register("my-model", "my network", options=OPTIONS)
        def make(options):
            return MyCodec("my-model", options)

    A family that finds its weights in its own way (the zoo's, with checksums and origins) overrides
    :meth:`load_point` instead of :meth:`load`.
    """

    columns = ("device", "padding", "weights_sha256", "bpp_estimated", "payload_bytes")
    #: The coder class of each operating point (a subclass may code ŷ another way).
    coder_class: type[CompressionModelCoder] = CompressionModelCoder

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        """``options``: values of :data:`OPTIONS` (missing ones take their defaults; others are kept in
        :attr:`options` for the subclass)."""
        import torch

        self.name = name
        known = {option.name for option in OPTIONS}
        values = {**options, **resolve(OPTIONS, {k: v for k, v in options.items() if k in known}, codec=name)}
        self.options = values
        device = values["device"]
        if device == "cuda" and not torch.cuda.is_available():
            raise CodecError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
        self.device = torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available())
                                   else "cpu")
        if self.device.type == "cuda":
            # as eval_model: the decoder must rebuild the encoder's entropy parameters bit for bit
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        self.padding = values["padding"]
        self.update = values["update"]
        self._coders: dict[str, CompressionModelCoder] = {}

    @abstractmethod
    def default_points(self) -> list[str]:
        """Operating-point labels benchmarked when the user names none, in rate order."""

    def load(self, point: str) -> torch.nn.Module:
        """The model of operating point ``point``, weights loaded (any device; it is moved and put in eval
        mode). Raise CodecError for an unknown label, :class:`bench.core.errors.CodecUnavailable` when
        its weights cannot be had here (the codec is then skipped with one line)."""
        raise NotImplementedError(f"{type(self).__name__} must define load(point) or load_point(point)")

    def load_point(self, point: str) -> LoadedModel:
        """:meth:`load`'s model, ready to code (``update(force=True)`` unless ``update`` is off), with the
        hash of its weights (``weights_sha256``: rows are recomputed when the weights change)."""
        from bench.learned.checkpoint import LoadedModel

        model = self.load(point).eval()
        if self.update:
            model.update(force=True)
        origin = f"plugin:{type(self).__module__}.{type(self).__qualname__}"
        return LoadedModel(model, self.name, point, weights_sha256(model), origin, {}, self.update)

    def coder(self, point: str) -> CompressionModelCoder:
        """The coder of ``point``, its model loaded once."""
        if point not in self._coders:
            self._coders[point] = self.coder_class(self, self.load_point(point))
        return self._coders[point]

    def identity(self) -> dict[str, Any]:
        import compressai
        import torch

        identity = {
            "library": "compressai",
            "compressai": compressai.__version__,
            "torch": torch.__version__,
            "padding": self.padding,
            "update": self.update,
            "device": self.device.type,
            "entropy_coder": compressai.get_entropy_coder(),
            "bitstream": bitstream.TAG,
        }
        if self.device.type == "cuda":
            identity.update(cudnn_deterministic=True, allow_tf32=bool(torch.backends.cudnn.allow_tf32))
        return identity

    def synchronize(self) -> Callable[[], None] | None:
        if self.device.type == "cuda":
            import torch

            return torch.cuda.synchronize
        return None

    def describe(self) -> str:
        return f"{self.name}: {type(self).__name__}, padding {self.padding}, {self.device}"


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of a model's state: every parameter and buffer's name, dtype, shape and bytes, in order."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)}\n".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
