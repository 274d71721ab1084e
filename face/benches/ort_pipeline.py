#!/usr/bin/env python3
"""The face verification pipeline of hadir-face in Python with onnxruntime (one thread), as the
benchmark's reference: decode JPEG (Pillow) -> letterbox 256 -> BlazeFace -> anchor decoding and
weighted NMS -> 1.4x square crop 224 -> faceres (BGR, minus means) -> cosine with 3 templates.

Usage: ort_pipeline.py MODELS_DIR SELFIE.jpg N. Prints `key value` lines.
"""
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def anchors(size=256, strides=(16, 32), per=(2, 6)):
    out = []
    for s, n in zip(strides, per):
        g = size // s
        for y in range(g):
            for x in range(g):
                for _ in range(n):
                    out.append(((x + 0.5) / g, (y + 0.5) / g))
    return np.array(out, dtype=np.float32)


def main():
    models, selfie, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    before = rss_kib()
    t = time.perf_counter()
    det = ort.InferenceSession(models + "/blazeface.onnx", opts, providers=["CPUExecutionProvider"])
    emb = ort.InferenceSession(models + "/faceres.onnx", opts, providers=["CPUExecutionProvider"])
    A = anchors()
    data = open(selfie, "rb").read()
    mean = np.array([103.939, 116.779, 123.68], dtype=np.float32)

    def verify(templates):
        import io
        img = Image.open(io.BytesIO(data)).convert("RGB")
        w, h = img.size
        side = max(w, h)
        canvas = Image.new("RGB", (side, side))
        canvas.paste(img, ((side - w) // 2, (side - h) // 2))
        x = np.asarray(canvas.resize((256, 256), Image.BILINEAR), dtype=np.float32) / 127.5 - 1.0
        outs = det.run(None, {"input:0": x[None]})
        scores = sorted([o for o in outs if o.shape[-1] == 1], key=lambda o: -o.shape[1])
        regs = sorted([o for o in outs if o.shape[-1] == 16], key=lambda o: -o.shape[1])
        s = np.concatenate([o[0, :, 0] for o in scores])
        r = np.concatenate([o[0] for o in regs])
        p = 1.0 / (1.0 + np.exp(-np.clip(s, -80, 80)))
        idx = np.where(p >= 0.75)[0]
        boxes = np.stack([r[idx, 0] / 256 + A[idx, 0], r[idx, 1] / 256 + A[idx, 1], r[idx, 2] / 256, r[idx, 3] / 256], 1)
        sc = p[idx]
        order = np.argsort(-sc)
        boxes, sc = boxes[order], sc[order]
        faces = []
        while len(sc):
            b = boxes[0]
            x1 = np.maximum(b[0] - b[2] / 2, boxes[:, 0] - boxes[:, 2] / 2)
            x2 = np.minimum(b[0] + b[2] / 2, boxes[:, 0] + boxes[:, 2] / 2)
            y1 = np.maximum(b[1] - b[3] / 2, boxes[:, 1] - boxes[:, 3] / 2)
            y2 = np.minimum(b[1] + b[3] / 2, boxes[:, 1] + boxes[:, 3] / 2)
            inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
            iou = inter / (b[2] * b[3] + boxes[:, 2] * boxes[:, 3] - inter)
            same = iou > 0.3
            same[0] = True
            wsum = sc[same].sum()
            faces.append((sc[0], (boxes[same] * sc[same, None]).sum(0) / wsum))
            boxes, sc = boxes[~same], sc[~same]
        _, (cx, cy, bw, bh) = faces[0]
        cx, cy = cx * side - (side - w) / 2, cy * side - (side - h) / 2
        half = max(bw, bh) * side * 1.4 / 2
        crop = img.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half))).resize((224, 224), Image.BILINEAR)
        xb = np.asarray(crop, dtype=np.float32)[:, :, ::-1] - mean
        e = emb.run(["global_pooling/Mean"], {"input_1:0": np.ascontiguousarray(xb[None])})[0][0]
        e = e / np.linalg.norm(e)
        return e, max(float(e @ t) for t in templates) if templates else None

    probe, _ = verify([])
    load_ms = (time.perf_counter() - t) * 1000
    model_mib = (rss_kib() - before) / 1024
    templates = [probe, probe, probe]
    times = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        _, score = verify(templates)
        times.append((time.perf_counter() - t0) * 1000)
        assert score > 0.99
    rate = n / (time.perf_counter() - start)
    times.sort()
    print("onnxruntime %s reference, %d verifications, 1 thread" % (ort.__version__, n))
    print("  ort_load_ms %.0f" % load_ms)
    print("  ort_model_memory_mib %.1f" % model_mib)
    print("  ort_total_p50_ms %.2f" % times[len(times) // 2])
    print("  ort_total_p99_ms %.2f" % times[min(len(times) - 1, int(round((len(times) - 1) * 0.99)))])
    print("  ort_rate_per_s %.1f" % rate)


if __name__ == "__main__":
    main()
