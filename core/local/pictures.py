"""What the local endpoint does with a request's picture: check it, decode it within the pixel
budget, and prepare it exactly as training prepared its validation pictures.

Decoding is where the memory goes (Pillow keeps an RGB pixel in 4 bytes: a 7000×7000 PNG is
196 MB), so a picture holds its pixels' share of the server's :class:`PixelBudget` while it
is decoded, and is decoded economically: a JPEG at the reduced scale its decoder offers
(``decode_image``'s draft), a grey picture resized while it is still one byte a pixel.
Pillow only: no torch off the model thread.
"""

from __future__ import annotations

import io

from sagewiz.core.local.limits import PixelBudget

PIXEL_WAIT_S = 30.0  # how long a picture may wait for other pictures' decoding to finish
_GREY = ("1", "L")  # resized in one band and then made RGB: the same pixels as RGB all along


class RequestProblem(Exception):
    """A request the server answers with an error status: what went wrong and what to do."""

    def __init__(self, status: int, error: str, hint: str, *, headers: dict[str, str] | None = None):
        super().__init__(error)
        self.status, self.error, self.hint, self.headers = status, error, hint, headers or {}


def make_preprocess(image_shape: tuple[int, int, int], resize: int | None, budget: PixelBudget | None = None):
    """bytes → the model's input as H×W×3 RGB bytes, exactly as validation images are prepared
    in training (EvalTransform: resize, centre crop). Raises RequestProblem: 400 for bytes
    that aren't a picture it can read, 503 when other pictures hold the budget too long.

    Each picture holds its decoded pixels' share of ``budget`` (by default one picture of the
    largest size at a time) while it is decoded; a JPEG is charged for what its decoder
    produces at the reduced scale, not its full size."""
    from PIL import Image, UnidentifiedImageError

    from sagewiz.core.dataset.images import MAX_IMAGE_PIXELS
    from sagewiz.core.local.transforms import _RESAMPLE, EvalTransform, decode_image, eval_size

    transform = EvalTransform(image_shape, resize)  # checks the shape and resize once
    budget = budget or PixelBudget(MAX_IMAGE_PIXELS)
    # What decode_image asks the JPEG decoder for: it scales by 1/2–1/8 while staying above it.
    draft_size = (transform.resize, transform.resize) if transform.resize else (transform.width, transform.height)

    def decode(data: bytes, grey: bool) -> Image.Image:
        if not grey:
            return decode_image(data, image_shape, resize)
        # decode_image would make a full-size RGB copy (4 bytes a pixel) before resizing.
        image = Image.open(io.BytesIO(data))
        image.load()  # decode now, so damaged bytes fail here (as in decode_image)
        if image.mode == "1":
            image = image.convert("L")
        size = eval_size(image.width, image.height, transform.height, transform.width, transform.resize)
        return image.resize(size, _RESAMPLE, reducing_gap=3.0) if size != image.size else image

    def preprocess(data: bytes) -> bytes:
        try:
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                pixels = header.width * header.height
                grey = header.mode in _GREY and header.format != "JPEG"  # a JPEG is drafted instead
                if pixels <= MAX_IMAGE_PIXELS and header.format == "JPEG":
                    header.draft("RGB", draft_size)  # sets the size it would decode at; decodes nothing
                decoded = header.width * header.height
            if pixels > MAX_IMAGE_PIXELS:
                raise RequestProblem(400, f"The image has {pixels:,} pixels, over the {MAX_IMAGE_PIXELS:,}-pixel safety limit.",
                                     "Send a smaller image.")
            held = budget.acquire(decoded, PIXEL_WAIT_S)
            if held is None:
                raise RequestProblem(503, f"The endpoint is still decoding other large pictures after {PIXEL_WAIT_S:g} s.",
                                     "Send it again in a moment, or send fewer large pictures at once.",
                                     headers={"Retry-After": "1"})
            try:
                # EvalTransform's steps, stopping before its tensor: the model thread makes the batch.
                return transform.fit_and_crop(decode(data, grey)).tobytes()
            finally:
                budget.release(held)
        except RequestProblem:
            raise
        except UnidentifiedImageError:
            raise RequestProblem(400, "The body is not an image: its bytes are neither JPEG nor PNG (nor another format Pillow reads).",
                                 "Send the bytes of a JPEG or PNG file, unchanged.") from None
        except Exception as error:  # noqa: BLE001 - any bytes may arrive; none may become a traceback
            raise RequestProblem(400, f"The body is not an image this endpoint can read ({str(error) or type(error).__name__}).",
                                 "Send the bytes of a JPEG or PNG file, unchanged.") from None

    return preprocess


def preprocess_for(info, budget: PixelBudget | None = None):
    """:func:`make_preprocess` for the model ``info`` describes (a ModelInfo): its image_shape and
    the ``resize`` it was trained with. Raises ValueError for a ``resize`` that isn't a number."""
    resize_text = str(info.hyperparameters.get("resize", "") or "").strip()
    return make_preprocess(info.image_shape, int(resize_text) if resize_text else None, budget)
