"""The model card's content, typed: Hub metadata (``metadata``), the body's numeric sections
(``sections``), and the one card-data object filled from the run record (``data``).

Rendering and the files a card folder gets are in :mod:`swiss_ner.model_card`; the Jinja
template is ``template.md`` beside these modules.
"""
