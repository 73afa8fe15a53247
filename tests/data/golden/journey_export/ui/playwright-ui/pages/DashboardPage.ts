import type { Locator, Page } from '@playwright/test';
import { BASE_URL } from '../constants';

export class DashboardPage {
  readonly page: Page;
  readonly addNoteButton: Locator;
  readonly toggleDetailsButton: Locator;

  constructor(page: Page) {
    this.page = page;
    this.addNoteButton = page.getByTestId('add-note');
    this.toggleDetailsButton = page.getByTestId('toggle-details');
  }

  async goto() {
    await this.page.goto(BASE_URL + '/dashboard');
  }
}
