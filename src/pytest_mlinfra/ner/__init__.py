"""The NER pack: what is specific to a named-entity model, on top of the generic core.

- :mod:`.predictor` — ``NerPredictor``: ``predictor(text) -> [Entity]`` over the function client;
- :mod:`.strategies` — Hypothesis strategies (names in templates, unicode, blank, near-limit, malformed);
- :mod:`.properties` — the response contract as property checks (labels, confidence, spans, ...);
- :mod:`.fixtures` — the ``ner_predictor`` and ``ner_model_card`` fixtures (registered by the plugin);
- :mod:`.suite` — the stock property suite, switched on with ``mlinfra_properties = ner``.

Another model gets its own pack beside this one (see CONTRIBUTING.md, "Add a property").
"""
