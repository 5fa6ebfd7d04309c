"""Self-supervised speech encoders shared by many heads: one checkpoint, many separators and enhancers.

- ``encoder``: ``SslEncoder`` (arch ``ssl_encoder``), a conv or log-mel stem and a Transformer;
  ``forward(wav)`` gives every layer's features.
- objectives for ``paradigm: ssl``: ``wav2vec2`` (masking, Gumbel product quantiser, contrastive
  and diversity losses), ``hubert`` (k-means targets, masked cross-entropy), ``tera`` (masked
  log-mel reconstruction).
- ``frontend``: ``SslFrontEnd``, an exported encoder as a frozen or fine-tuned feature branch
  with a learned mix of layers; used by the ``ssl_masker`` and ``ssl_blstm`` models.
"""
