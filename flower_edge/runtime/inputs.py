"""The spellings of `live --input`, declared once. numpy-free, so the CLI's help reads
them without loading numpy at start-up."""

from __future__ import annotations

PICAMERA = "picamera2"  # the Pi camera, through picamera2
CAMERA = "camera:"  # camera:N, a USB camera by index (OpenCV)
WATCH = "watch:"  # watch:DIR, each new image file in DIR
IMX500 = "imx500:"  # imx500:NETWORK.rpk, the AI Camera classifies on its sensor

INPUT_HELP = (f"{CAMERA}N (a USB camera by index), {PICAMERA} (the Pi camera), a video file, an rtsp:// "
              f"or http:// URL, {WATCH}DIR (each new image file in DIR)")
