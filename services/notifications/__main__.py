"""python -m services.notifications: run the notifications service."""

from services.common.launch import launch

launch("services.notifications.service", "NotificationsService")
