import { HomePage } from './pages/HomePage';
import { DashboardPage } from './pages/DashboardPage';
import { WidgetsPage } from './pages/WidgetsPage';
import { PASSWORD, USERNAME } from './constants';

describe('Sign in, add a note & pick widgets', () => {
  const homePage = new HomePage();
  const dashboardPage = new DashboardPage();
  const widgetsPage = new WidgetsPage();

  it('follows the recorded journey', () => {
    homePage.visit();
    cy.intercept('POST', '**/api/auth*').as('authReq');
    homePage.login(USERNAME, PASSWORD);
    cy.wait('@authReq').its('response.statusCode').should('eq', 200);
    // Let the app render what the API answered (the spec's pause after API waits)
    // eslint-disable-next-line cypress/no-unnecessary-waiting
    cy.wait(1000);

    cy.url().should('include', '/dashboard');
    cy.intercept('POST', '**/api/notes*').as('notesReq');
    dashboardPage.getAddNoteButton().should('be.visible').click({ force: true });
    cy.wait('@notesReq').its('response.statusCode').should('eq', 201);
    // Let the app render what the API answered (the spec's pause after API waits)
    // eslint-disable-next-line cypress/no-unnecessary-waiting
    cy.wait(1000);
    dashboardPage.getToggleDetailsButton().should('be.visible').click({ force: true });

    cy.url().should('include', '/widgets');
    widgetsPage.getTagType().should('be.visible').click({ force: true });
    widgetsPage.getTagType2().should('be.visible').click({ force: true });
    widgetsPage.getCountrySelect().should('be.visible').select('Germany', { force: true });
    widgetsPage.getCountrySelect().find('option:selected').should('have.text', 'Germany');
    widgetsPage.getAgreeField().should('be.visible').check({ force: true });
    widgetsPage.getAgreeField().should('be.checked');
    widgetsPage.getGirisYapButton().should('be.visible').click({ force: true });
    widgetsPage.getP1().should('be.visible').click({ force: true });
  });
});
