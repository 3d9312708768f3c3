"""The Raspberry Pi AI Camera (Sony IMX500): export a run for the sensor (workstation side).

The conversion itself (MCT, Sony's imx500-converter, TF 2.15) runs in a pinned venv of its
own (env.py); this package only prepares the job and writes the result. The Pi-side reader
is flower_edge/runtime/imx500.py.
"""
