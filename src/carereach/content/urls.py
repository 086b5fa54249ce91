"""Content pages under content/, and the public tracked-link path /l/<token>.

/l/ is short on purpose: it travels in text messages (CARE_SHORT_URL may put it on a short domain).
"""

from django.urls import path

from carereach.content.views import composer, library, programs, public, review, series

app_name = "content"

urlpatterns = [
    path("content/", library.library_view, name="library"),
    path("content/items/new/", library.item_new_view, name="item_new"),
    path("content/items/<int:item_id>/", library.item_view, name="item"),
    path("content/items/<int:item_id>/edit/", library.item_edit_view, name="item_edit"),
    path("content/items/<int:item_id>/diff/", library.diff_view, name="diff"),
    path(
        "content/versions/<int:version_id>/edit/", composer.version_edit_view, name="version_edit"
    ),
    path(
        "content/versions/<int:version_id>/preview/",
        composer.version_preview_view,
        name="version_preview",
    ),
    path(
        "content/versions/<int:version_id>/<slug:action>/",
        library.version_action_view,
        name="version_action",
    ),
    path("content/composer/", composer.composer_view, name="composer"),
    path("content/composer/count/", composer.composer_count_view, name="composer_count"),
    path("content/composer/replace/", composer.composer_replace_view, name="composer_replace"),
    path("content/review/", review.review_queue_view, name="review_queue"),
    path("content/review/<int:version_id>/", review.review_view, name="review"),
    path(
        "content/review/<int:version_id>/preview/",
        review.review_preview_view,
        name="review_preview",
    ),
    path("content/series/", series.series_list_view, name="series_list"),
    path("content/series/<int:series_id>/", series.series_view, name="series"),
    path("content/programs/", programs.program_rules_view, name="program_rules"),
    # Public: no sign-in; the unguessable token is the only key.
    path("l/<str:token>", public.link_view, name="link"),
]
