"""The back office's history list (templates/simple_history/object_history_list.html) reads a
history row's kind and change reason as the members' history pages do: through
cases/history.py's history_action and change_reason_display, in the reader's language."""

from django import template

from ..history import change_reason_display, history_action

register = template.Library()


@register.filter
def history_row_action(record) -> str:
    """"Created", "Restored", "Changed", "Linked again on restore" or "Deleted"."""
    return history_action(record.history_type, record.history_change_reason)


@register.filter
def history_row_reason(record) -> str:
    """The row's change reason in words (a deletion's token is not for readers)."""
    return change_reason_display(record.history_change_reason)
